"""The session keyring (gnome-keyring's login collection) as the desktop handles it, for the
end-to-end tests: lock it (a screen lock, a timeout), unlock it with its password (a login:
what PAM does, without a prompt), or say whether it is locked.

    keyring.py lock | unlock PASSWORD | locked

`locked` prints true or false.
"""

import sys

from jeepney import DBusAddress, new_method_call
from jeepney.io.blocking import open_dbus_connection

SERVICE = "/org/freedesktop/secrets"
LOGIN = "/org/freedesktop/secrets/collection/login"


def call(conn, path, interface, method, signature, body):
    addr = DBusAddress(path, bus_name="org.freedesktop.secrets", interface=interface)
    reply = conn.send_and_get_reply(new_method_call(addr, method, signature, body))
    if reply.header.message_type.name == "error":
        sys.exit(f"{interface}.{method}: {reply.body}")
    return reply.body


def main(argv):
    with open_dbus_connection(bus="SESSION") as conn:
        if argv[1] == "lock":
            call(conn, SERVICE, "org.freedesktop.Secret.Service", "Lock", "ao", ([LOGIN],))
        elif argv[1] == "unlock":
            # A plain session: the password travels unencrypted, over this private bus only.
            _, session = call(conn, SERVICE, "org.freedesktop.Secret.Service", "OpenSession", "sv", ("plain", ("s", "")))
            secret = (session, b"", argv[2].encode(), "text/plain")
            call(conn, SERVICE, "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface",
                 "UnlockWithMasterPassword", "o(oayays)", (LOGIN, secret))
        elif argv[1] == "locked":
            (value,) = call(conn, LOGIN, "org.freedesktop.DBus.Properties", "Get", "ss",
                            ("org.freedesktop.Secret.Collection", "Locked"))
            print("true" if value[1] else "false")
        else:
            sys.exit(f"unknown command {argv[1]}")


if __name__ == "__main__":
    main(sys.argv)
