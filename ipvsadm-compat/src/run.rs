//! `main`, `process_options` (after parsing), `restore_table` and `config_stream_read` of
//! ipvsadm 1.31, on one [`Ipvs`] connection kept for the whole run.

use std::io::{self, BufRead, Write};

use crate::grammar::{self, fmt, optc, Cmd, CommandEntry, Parsed, Stop};
use crate::ipvs::{self, Ipvs};
use crate::list;
use crate::parse::Names;

const CONN_PROC_FILE: &str = "/proc/net/ip_vs_conn";

/// The process ends with this status (ipvsadm's `exit()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit(pub i32);

/// One ipvsadm run: the IPVS connection, the name services, and the output streams.
pub struct Runner<'a, W: Write, E: Write> {
    pub ipvs: Ipvs,
    pub names: &'a dyn Names,
    pub out: W,
    pub err: E,
    /// argv[0], as ipvsadm prints it in `tryhelp_exit` and `usage_exit`.
    pub program: String,
    /// The sequence number of the last command sent without waiting (`-R`), and whether the
    /// line that sent it was answered with an error.
    pub last_async: Option<u32>,
    pub last_async_failed: bool,
}

impl<W: Write, E: Write> std::fmt::Debug for Runner<'_, W, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").field("program", &self.program).finish()
    }
}

impl<W: Write, E: Write> Runner<'_, W, E> {
    fn stdout(&mut self, s: &str) {
        self.sync_point();
        let _ = self.out.write_all(s.as_bytes());
    }

    fn stderr(&mut self, s: &str) {
        self.sync_point();
        let _ = self.err.write_all(s.as_bytes());
        let _ = self.err.flush();
    }

    /// Prints the errors of pipelined commands answered so far, in order (as ipvsadm would
    /// have printed them right after each command).
    fn collect(&mut self) {
        for a in self.ipvs.take_answers() {
            if let Err(e) = a.result {
                let msg = ipvs::strerror(a.func, e.0);
                let _ = self.err.write_all(format!("{msg}\n").as_bytes());
                let _ = self.err.flush();
            }
            if Some(a.seq) == self.last_async {
                self.last_async_failed = a.result.is_err();
            }
        }
    }

    /// Waits for every pipelined command and prints their errors: done before anything else
    /// is printed or read, so effects and messages keep ipvsadm's order.
    pub fn sync_point(&mut self) {
        self.ipvs.settle();
        self.collect();
    }

    /// `list_all(format)` with ipvsadm's no-argument form.
    pub fn list_all(&mut self, format: u32) -> Result<(), Exit> {
        if format & fmt::RULE == 0 {
            let (v, size) = (self.ipvs.version, self.ipvs.conn_tab_size);
            self.stdout(&format!(
                "IP Virtual Server version {}.{}.{} (size={})\n",
                (v >> 16) & 0xff,
                (v >> 8) & 0xff,
                v & 0xff,
                size as i32
            ));
        }
        let mut services = match self.ipvs.get_services() {
            Ok(s) => s,
            Err(e) => {
                let msg = ipvs::strerror(self.ipvs.func, e.0);
                self.stderr(&format!("{msg}\n"));
                return Err(Exit(1));
            }
        };
        if format & fmt::NOSORT == 0 {
            list::sort_services(&mut services);
        }
        let mut text = String::new();
        list::title(&mut text, format);
        self.stdout(&text);
        for chunk in services.chunks(1024) {
            let all = self.ipvs.get_dests_many(chunk);
            for (se, dests) in chunk.iter().zip(all) {
                let mut dests = match dests {
                    Ok(d) => d,
                    Err(e) => {
                        let msg = ipvs::strerror(self.ipvs.func, e.0);
                        self.stderr(&format!("{msg}\n"));
                        return Err(Exit(1));
                    }
                };
                text.clear();
                list::service_entry(&mut text, se, &mut dests, format, self.names);
                self.stdout(&text);
            }
        }
        Ok(())
    }

    fn print_service(&mut self, se: &ipvs::ServiceRow, format: u32) -> Result<(), Exit> {
        let mut dests = match self.ipvs.get_dests(se) {
            Ok(d) => d,
            Err(e) => {
                let msg = ipvs::strerror(self.ipvs.func, e.0);
                self.stderr(&format!("{msg}\n"));
                return Err(Exit(1));
            }
        };
        let mut text = String::new();
        list::service_entry(&mut text, se, &mut dests, format, self.names);
        self.stdout(&text);
        Ok(())
    }

    fn list_service(&mut self, ce: &CommandEntry) -> Result<(), Exit> {
        let se = match self.ipvs.get_service(&ce.svc) {
            Ok(se) => se,
            Err(e) => {
                let msg = ipvs::strerror(self.ipvs.func, e.0);
                self.stderr(&format!("{msg}\n"));
                return Err(Exit(1));
            }
        };
        let mut text = String::new();
        list::title(&mut text, ce.format);
        self.stdout(&text);
        self.print_service(&se, ce.format)
    }

    fn list_conn(&mut self, format: u32) -> Result<(), Exit> {
        let Ok(raw) = self.ipvs.read_proc("ip_vs_conn") else {
            self.stderr(&format!("cannot open file {CONN_PROC_FILE}\n"));
            return Err(Exit(1));
        };
        let text = String::from_utf8_lossy(&raw);
        // fgets into a 256-byte buffer: lines of up to 255 bytes.
        let mut chunks = text.split_inclusive('\n').flat_map(|l| {
            let mut parts = Vec::new();
            let mut rest = l;
            while rest.len() > 255 {
                let mut cut = 255;
                while !rest.is_char_boundary(cut) {
                    cut -= 1;
                }
                parts.push(&rest[..cut]);
                rest = &rest[cut..];
            }
            parts.push(rest);
            parts
        });
        if chunks.next().is_none() {
            self.stderr(&format!("unexpected input from {CONN_PROC_FILE}\n"));
            return Err(Exit(1));
        }
        self.stdout(&list::conn_header(format));
        for line in chunks {
            match list::conn_line(line, format, self.names) {
                Some(l) => self.stdout(&l),
                None => return Err(Exit(1)),
            }
        }
        Ok(())
    }

    /// `process_options(argc, argv, reading_stdin)`: Ok(result) is what it returns (0 or -1);
    /// Err is an `exit()` on the way.
    pub fn process(&mut self, argv: &[String], reading_stdin: bool) -> Result<i32, Exit> {
        let ce = match grammar::parse(argv, self.names) {
            Ok(Parsed::Command(ce)) => ce,
            Ok(Parsed::Help) => {
                let u = grammar::usage(&self.program);
                self.stdout(&u);
                return Err(Exit(0));
            }
            Ok(Parsed::Version) => {
                self.stdout(&grammar::version_line());
                return Err(Exit(0));
            }
            Err(Stop::Exit { code, stdout, stderr }) => {
                self.stdout(&stdout);
                self.stderr(&stderr);
                return Err(Exit(code));
            }
            Err(Stop::Return { stderr }) => {
                self.stderr(&stderr);
                return Ok(-1);
            }
        };
        // Everything but plain commands reads state or prints: wait for the commands in flight.
        let plain = matches!(
            ce.cmd,
            Cmd::Flush
                | Cmd::Add
                | Cmd::Edit
                | Cmd::Del
                | Cmd::Zero
                | Cmd::AddDest
                | Cmd::EditDest
                | Cmd::DelDest
                | Cmd::Timeout
                | Cmd::StartDaemon
                | Cmd::StopDaemon
        );
        if !plain {
            self.sync_point();
        }
        let seq_before = self.ipvs.last_seq();
        let result = match ce.cmd {
            Cmd::List => {
                if ce.has(optc::CONNECTION) {
                    self.list_conn(ce.format)?;
                } else if ce.has(optc::SERVICE) {
                    self.list_service(&ce)?;
                } else if ce.has(optc::TIMEOUT) {
                    let t = self.ipvs.get_timeout().map_err(|_| Exit(1))?;
                    self.stdout(&list::timeouts(&t));
                } else if ce.has(optc::DAEMON) {
                    let d = self.ipvs.get_daemon().map_err(|_| Exit(1))?;
                    self.stdout(&list::daemons(&d));
                } else {
                    self.list_all(ce.format)?;
                }
                return Ok(0);
            }
            Cmd::Restore => return self.restore(reading_stdin),
            Cmd::Save => {
                self.list_all(ce.format | fmt::RULE)?;
                return Ok(0);
            }
            Cmd::Flush => self.ipvs.flush(),
            Cmd::Add | Cmd::Edit if ce.synproxy.is_some() => return Ok(self.unsupported("synproxy")),
            Cmd::Add => self.ipvs.add_service(&ce.svc),
            Cmd::Edit => self.ipvs.update_service(&ce.svc),
            Cmd::Del => self.ipvs.del_service(&ce.svc),
            Cmd::Zero => self.ipvs.zero_service(&ce.svc),
            Cmd::AddDest => self.ipvs.add_dest(&ce.svc, &ce.dest),
            Cmd::EditDest => self.ipvs.update_dest(&ce.svc, &ce.dest),
            Cmd::DelDest => self.ipvs.del_dest(&ce.svc, &ce.dest),
            Cmd::Timeout => self.ipvs.set_timeout(&ce.timeout),
            Cmd::StartDaemon => self.ipvs.start_daemon(&ce.daemon),
            Cmd::StopDaemon => self.ipvs.stop_daemon(&ce.daemon),
            dpvs => return Ok(self.unsupported(dpvs.name())),
        };
        if self.ipvs.last_seq() != seq_before && self.ipvs.is_pipelined() {
            // Sent without waiting: its answer is collected later.
            self.last_async = Some(self.ipvs.last_seq());
            self.last_async_failed = false;
            self.collect();
            return Ok(0);
        }
        match result {
            Ok(()) => Ok(0),
            Err(e) => {
                let msg = ipvs::strerror(self.ipvs.func, e.0);
                self.stderr(&format!("{msg}\n"));
                Ok(-1)
            }
        }
    }

    /// A DPVS extension the other end does not implement: refused like a kernel error.
    fn unsupported(&mut self, feature: &str) -> i32 {
        let by = if self.ipvs.is_dpvsd() { "this dpvsd" } else { "the kernel's IPVS" };
        self.stderr(&format!("ipvsadm-compat: {feature}: not supported by {by}\n"));
        -1
    }

    /// `restore_table`: each line of stdin is a command; the result is the last line's.
    fn restore(&mut self, reading_stdin: bool) -> Result<i32, Exit> {
        if reading_stdin {
            let t = grammar::tryhelp(&self.program);
            if let Stop::Exit { code, stderr, .. } = t {
                self.stderr(&stderr);
                return Err(Exit(code));
            }
        }
        let stdin = io::stdin();
        let mut reader = ConfigStream::new(stdin.lock());
        let mut result = 0;
        let mut last_line_async = false;
        self.ipvs.set_pipelined(true);
        while let Some(tokens) = reader.next_line() {
            if tokens.is_empty() {
                continue;
            }
            let mut argv = Vec::with_capacity(tokens.len() + 1);
            argv.push(self.program.clone());
            argv.extend(tokens);
            let before = self.last_async;
            result = self.process(&argv, true)?;
            last_line_async = self.last_async != before;
        }
        self.ipvs.set_pipelined(false);
        self.collect();
        if last_line_async && self.last_async_failed {
            result = -1;
        }
        Ok(result)
    }
}

/// `config_stream_read`: whitespace-separated tokens up to each newline; "ipvsadm" tokens are
/// dropped. As in ipvsadm 1.31, '#' starts no comment, and whitespace running into the end of
/// the input drops that last line.
pub struct ConfigStream<R: BufRead> {
    r: R,
}

impl<R: BufRead> std::fmt::Debug for ConfigStream<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfigStream")
    }
}

const MAX_LINE_LENGTH: usize = 4096;

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl<R: BufRead> ConfigStream<R> {
    pub fn new(r: R) -> Self {
        ConfigStream { r }
    }

    fn peek(&mut self) -> Option<u8> {
        match self.r.fill_buf() {
            Ok(b) if !b.is_empty() => Some(b[0]),
            _ => None,
        }
    }

    fn bump(&mut self) {
        self.r.consume(1);
    }

    /// The tokens of the next line (argv without argv[0]); None at the end of the input.
    pub fn next_line(&mut self) -> Option<Vec<String>> {
        let mut tokens: Vec<String> = Vec::new();
        let mut tail_newline = false;
        loop {
            let Some(c) = self.peek() else {
                return if tokens.is_empty() { None } else { Some(tokens) };
            };
            if is_ws(c) {
                // fscanf matched nothing: skip blanks up to a newline (end of the line) or a
                // token; the end of the input here drops the line.
                loop {
                    let c = self.peek()?;
                    if c == b'\n' {
                        self.bump();
                        return Some(tokens);
                    }
                    if !is_ws(c) {
                        break;
                    }
                    self.bump();
                }
            }
            let mut tok = Vec::new();
            while tok.len() < MAX_LINE_LENGTH {
                match self.peek() {
                    Some(b) if !is_ws(b) => {
                        tok.push(b);
                        self.bump();
                    }
                    _ => break,
                }
            }
            // "%1[ \t\n\r]": one whitespace character, if there is one.
            if let Some(b) = self.peek() {
                if is_ws(b) {
                    self.bump();
                    tail_newline = b == b'\n';
                }
            }
            // The token is a C string from here on: a NUL byte ends it.
            if let Some(nul) = tok.iter().position(|&b| b == 0) {
                tok.truncate(nul);
            }
            let tok = String::from_utf8_lossy(&tok).into_owned();
            if tok != "ipvsadm" {
                tokens.push(tok);
            }
            if tail_newline {
                return Some(tokens);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &str) -> Vec<Vec<String>> {
        let mut s = ConfigStream::new(input.as_bytes());
        let mut out = Vec::new();
        while let Some(l) = s.next_line() {
            out.push(l);
        }
        out
    }

    #[test]
    fn config_stream_like_ipvsadm() {
        assert_eq!(lines("ipvsadm -A -t x:80\n\n-C"), vec![vec!["-A", "-t", "x:80"], vec![], vec!["-C"]]);
        assert_eq!(lines("  -A\t-t  x:80 \r\n"), vec![vec!["-A", "-t", "x:80"]]);
        // '#' is an ordinary token.
        assert_eq!(lines("# a comment\n"), vec![vec!["#", "a", "comment"]]);
        // Trailing blanks at the end of the input drop the line.
        assert_eq!(lines("-C  "), Vec::<Vec<String>>::new());
        assert_eq!(lines(""), Vec::<Vec<String>>::new());
        assert_eq!(lines("ipvsadm"), Vec::<Vec<String>>::new());
        assert_eq!(lines("-A -t x:80\0junk -s\0 rr\n"), vec![vec!["-A", "-t", "x:80", "-s", "rr"]]);
    }
}
