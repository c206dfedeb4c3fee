//! Frame decoding, both ways: whatever text arrives, the server's parser (`ClientFrame::parse`)
//! classifies it without panicking, and the error it answers with stays small; the client's
//! parser (`ServerFrame`) reads what the server could send and writes it back the same.
#![no_main]

use confab_protocol::limits::{MAX_ERROR_MESSAGE_BYTES, MAX_ID_BYTES};
use confab_protocol::{ClientFrame, ServerFrame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match ClientFrame::parse(text) {
        Ok(frame) => {
            // What parses survives a round trip (the server logs and stores nothing else).
            let again = serde_json::to_string(&frame)
                .ok()
                .map(|t| ClientFrame::parse(&t));
            assert!(
                matches!(again, Some(Ok(ref f)) if *f == frame),
                "{frame:?} -> {again:?}"
            );
        }
        Err(err) => {
            let reply = err.to_frame().to_json();
            // An error never amplifies its input: bounded message, no long ref.
            assert!(
                reply.len() <= MAX_ERROR_MESSAGE_BYTES * 6 + MAX_ID_BYTES * 6 + 200,
                "{} bytes of error for {} bytes of input",
                reply.len(),
                text.len()
            );
        }
    }
    if let Ok(frame) = serde_json::from_str::<ServerFrame>(text) {
        let again = serde_json::from_str::<ServerFrame>(&frame.to_json());
        assert!(
            matches!(again, Ok(ref f) if *f == frame),
            "{frame:?} -> {again:?}"
        );
    }
});
