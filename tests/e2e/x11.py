"""What a window manager does to the app's window, for the end-to-end tests (there is no WM
under Xvfb): ask it to close (WM_DELETE_WINDOW, as a title-bar close button does), move and
resize it, and report whether it is mapped and where it is.

    x11.py close NAME | state NAME | move-resize NAME X Y W H | titles | type NAME TEXT

`state` prints JSON: {"mapped": bool, "x", "y", "width", "height"} (root coordinates);
`titles` the titles of the mapped top-level windows, one per line. `type` gives the window the
keyboard focus and types TEXT and Return into it, as a user at a prompt does (XTest).
"""

import json
import sys

from Xlib import X, XK, Xatom, display, protocol
from Xlib.ext import xtest


def find(d, name):
    """The top-level window titled `name` (WM_NAME), or exit 3 if there is none."""
    for w in d.screen().root.query_tree().children:
        title = w.get_full_property(Xatom.WM_NAME, X.AnyPropertyType)
        if title and title.value.decode(errors="replace") == name:
            return w
    sys.exit(3)


def main(argv):
    d = display.Display()
    if argv[1] == "titles":
        for w in d.screen().root.query_tree().children:
            title = w.get_full_property(Xatom.WM_NAME, X.AnyPropertyType)
            if title and w.get_attributes().map_state == X.IsViewable:
                print(title.value.decode(errors="replace"))
        return
    cmd, name = argv[1], argv[2]
    w = find(d, name)
    if cmd == "close":
        protocols = d.intern_atom("WM_PROTOCOLS")
        delete = d.intern_atom("WM_DELETE_WINDOW")
        ev = protocol.event.ClientMessage(
            window=w, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0])
        )
        w.send_event(ev, event_mask=X.NoEventMask)
    elif cmd == "move-resize":
        x, y, width, height = (int(v) for v in argv[3:7])
        w.configure(x=x, y=y, width=width, height=height)
    elif cmd == "state":
        attrs = w.get_attributes()
        g = w.get_geometry()
        pos = w.translate_coords(d.screen().root, 0, 0)
        print(json.dumps({
            "mapped": attrs.map_state == X.IsViewable,
            "x": -pos.x, "y": -pos.y, "width": g.width, "height": g.height,
        }))
    elif cmd == "type":
        w.set_input_focus(X.RevertToParent, X.CurrentTime)
        d.sync()
        for ch in list(argv[3]) + ["Return"]:
            code = d.keysym_to_keycode(XK.string_to_keysym(ch))
            xtest.fake_input(d, X.KeyPress, code)
            xtest.fake_input(d, X.KeyRelease, code)
            d.sync()
    else:
        sys.exit(f"unknown command {cmd}")
    d.sync()


if __name__ == "__main__":
    main(sys.argv)
