//! Opt-in decision log: silent unless `DPVS_SHIM_LOG` is set, then one line per
//! decision on stderr, formatted on the stack and written with one write(2).

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU8, Ordering};

const PREFIX: &str = "ipvs-netlink-shim: ";
const LINE_MAX: usize = 256;

/// Formats into a fixed buffer, silently truncating.
struct LineBuf {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl fmt::Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // keep one byte for the newline
        let room = LINE_MAX - 1 - self.len;
        let take = s.len().min(room);
        if let (Some(dst), Some(src)) = (
            self.buf.get_mut(self.len..self.len + take),
            s.as_bytes().get(..take),
        ) {
            dst.copy_from_slice(src);
            self.len += take;
        }
        Ok(())
    }
}

/// Formats one log line (prefix, message, newline) into `out`, returning the length.
fn format_line(args: fmt::Arguments<'_>) -> LineBuf {
    let mut line = LineBuf {
        buf: [0; LINE_MAX],
        len: 0,
    };
    let _ = line.write_str(PREFIX);
    let _ = line.write_fmt(args);
    if let Some(b) = line.buf.get_mut(line.len) {
        *b = b'\n';
        line.len += 1;
    }
    line
}

static ENABLED: AtomicU8 = AtomicU8::new(0); // 0 unknown, 1 off, 2 on

/// True when `DPVS_SHIM_LOG` is set (looked up once).
pub fn enabled() -> bool {
    match ENABLED.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            // SAFETY: getenv reads the environment with a static NUL-terminated
            // name; the result is only compared with NULL.
            let set = unsafe { !libc::getenv(c"DPVS_SHIM_LOG".as_ptr()).is_null() };
            ENABLED.store(if set { 2 } else { 1 }, Ordering::Relaxed);
            set
        }
    }
}

/// Writes one line to stderr if logging is enabled; errno is preserved.
pub fn write_line(args: fmt::Arguments<'_>) {
    if !enabled() {
        return;
    }
    let line = format_line(args);
    let saved = crate::sys::errno();
    let bytes = line.buf.get(..line.len).unwrap_or(&[]);
    // SAFETY: `bytes` is a valid initialised buffer of the given length; write(2)
    // (which the shim does not interpose) only reads it.
    let _ = unsafe { libc::write(libc::STDERR_FILENO, bytes.as_ptr().cast(), bytes.len()) };
    crate::sys::set_errno(saved);
}

/// `shim_log!("fmt", args)`: one decision line when `DPVS_SHIM_LOG` is set.
macro_rules! shim_log {
    ($($arg:tt)*) => {
        $crate::log::write_line(format_args!($($arg)*))
    };
}
pub(crate) use shim_log;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_prefixed_and_truncated() {
        let l = format_line(format_args!("fd {} redirected", 3));
        assert_eq!(&l.buf[..l.len], b"ipvs-netlink-shim: fd 3 redirected\n");
        let long = "x".repeat(1000);
        let l = format_line(format_args!("{long}"));
        assert_eq!(l.len, LINE_MAX);
        assert_eq!(l.buf[LINE_MAX - 1], b'\n');
    }
}
