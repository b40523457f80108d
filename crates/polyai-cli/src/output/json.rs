//! JSON and JSON Lines.

use std::io::{self, Write};

use serde::Serialize;

/// Writes `value` as pretty-printed JSON and a newline.
pub fn write_json<T: Serialize + ?Sized>(out: &mut impl Write, value: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(io_error)?;
    out.write_all(b"\n")
}

/// Writes `value` as one compact JSON line.
pub fn write_json_line<T: Serialize + ?Sized>(out: &mut impl Write, value: &T) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(io_error)?;
    out.write_all(b"\n")
}

/// A serializer's error as an I/O error that keeps the kind of the write that failed, so a
/// closed pipe is still seen as one.
fn io_error(err: serde_json::Error) -> io::Error {
    match err.io_error_kind() {
        Some(kind) => io::Error::new(kind, err),
        None => io::Error::other(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Closed;
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_stays_a_broken_pipe() {
        for result in [
            write_json(&mut Closed, &serde_json::json!({"a": 1})),
            write_json_line(&mut Closed, &serde_json::json!([1, 2])),
        ] {
            assert_eq!(
                result.err().map(|e| e.kind()),
                Some(io::ErrorKind::BrokenPipe)
            );
        }
    }
}
