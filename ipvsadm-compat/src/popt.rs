//! Command-line scanning with popt 1.19's semantics, as ipvsadm 1.31 sees them.
//!
//! ipvsadm hands its option table to popt and reacts to each option as popt returns it, so
//! its grammar *is* popt's: `--long`, `--long=value`, bundled short options (`-Lnc`), a short
//! option's argument attached (`-t10.0.0.1:80`, `-t=10.0.0.1:80`) or in the next word, an
//! optional argument (`-p [timeout]`) taken only when the next word does not start with `-`,
//! `--` ending the options, and every other word kept as a "leftover" argument. Errors carry
//! popt's code and the word popt blames (`poptBadOption`: the last word it consumed).

/// How an option takes an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// `POPT_ARG_NONE`.
    None,
    /// `POPT_ARG_STRING`.
    Required,
    /// `POPT_ARG_STRING | POPT_ARGFLAG_OPTIONAL`.
    Optional,
}

/// One row of the option table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptSpec {
    pub long: Option<&'static str>,
    pub short: Option<u8>,
    pub arg: ArgKind,
    /// What the scanner returns for this option (popt's `val`).
    pub val: u32,
}

/// popt's error codes, with `poptStrerror`'s text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoptError {
    /// `POPT_ERROR_NOARG`.
    NoArg,
    /// `POPT_ERROR_BADOPT`.
    BadOpt,
    /// `POPT_ERROR_UNWANTEDARG`.
    UnwantedArg,
}

impl PoptError {
    pub fn message(self) -> &'static str {
        match self {
            PoptError::NoArg => "missing argument",
            PoptError::BadOpt => "unknown option",
            PoptError::UnwantedArg => "option does not take an argument",
        }
    }
}

/// What one call of [`Scanner::next_opt`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// An option: its `val` and its argument (None for ARG_NONE, and for an optional argument
    /// that was not given).
    Opt { val: u32, arg: Option<String> },
    /// No more options (`-1`).
    End,
    /// An error; `bad` is what `poptBadOption(POPT_BADOPTION_NOALIAS)` returns.
    Error { error: PoptError, bad: String },
}

/// popt's context over one argument vector (argv[0] included, as popt receives it).
#[derive(Debug)]
pub struct Scanner<'a> {
    table: &'a [OptSpec],
    argv: &'a [String],
    next: usize,
    /// The rest of a bundle of short options: (argv index, byte offset).
    next_char: Option<(usize, usize)>,
    leftovers: Vec<String>,
    next_leftover: usize,
    rest_leftover: bool,
    posix_me_harder: bool,
}

impl<'a> Scanner<'a> {
    /// `poptGetContext`: POSIXLY_CORRECT or POSIX_ME_HARDER in the environment make the first
    /// non-option word end option processing, as popt does.
    pub fn new(table: &'a [OptSpec], argv: &'a [String]) -> Self {
        let posix = std::env::var_os("POSIXLY_CORRECT").is_some() || std::env::var_os("POSIX_ME_HARDER").is_some();
        Self::with_posix(table, argv, posix)
    }

    pub fn with_posix(table: &'a [OptSpec], argv: &'a [String], posix_me_harder: bool) -> Self {
        Scanner {
            table,
            argv,
            next: 1,
            next_char: None,
            leftovers: Vec::new(),
            next_leftover: 0,
            rest_leftover: false,
            posix_me_harder,
        }
    }

    fn bad(&self) -> String {
        self.argv.get(self.next.wrapping_sub(1)).cloned().unwrap_or_default()
    }

    fn err(&self, error: PoptError) -> Next {
        Next::Error { error, bad: self.bad() }
    }

    /// `poptGetNextOpt`.
    pub fn next_opt(&mut self) -> Next {
        loop {
            let mut long_arg: Option<String> = None;
            let mut opt: Option<&OptSpec> = None;
            if self.next_char.is_none() {
                if self.next >= self.argv.len() {
                    return Next::End;
                }
                let idx = self.next;
                let word = &self.argv[idx];
                self.next += 1;
                let b = word.as_bytes();
                if self.rest_leftover || b.first() != Some(&b'-') || b.len() == 1 {
                    if self.posix_me_harder {
                        self.rest_leftover = true;
                    }
                    self.leftovers.push(word.clone());
                    continue;
                }
                if b == b"--" {
                    self.rest_leftover = true;
                    continue;
                }
                let (body, one_dash) = if b[1] == b'-' { (&word[2..], false) } else { (&word[1..], true) };
                let (name, arg) = match body.find('=') {
                    Some(eq) => (&body[..eq], Some(body[eq + 1..].to_string())),
                    None => (body, None),
                };
                // A single dash never names a long option here (no POPT_ARGFLAG_ONEDASH).
                let found = if one_dash { None } else { self.table.iter().find(|o| o.long == Some(name)) };
                match found {
                    Some(o) => {
                        opt = Some(o);
                        long_arg = arg;
                    }
                    None if !one_dash => return self.err(PoptError::BadOpt),
                    None => self.next_char = Some((idx, 1)),
                }
            }
            if let Some((idx, off)) = self.next_char.take() {
                let word = self.argv[idx].as_bytes();
                let c = word[off];
                let Some(o) = self.table.iter().find(|o| o.short == Some(c)) else {
                    return self.err(PoptError::BadOpt);
                };
                opt = Some(o);
                if off + 1 < word.len() {
                    self.next_char = Some((idx, off + 1));
                }
            }
            let Some(o) = opt else { return self.err(PoptError::BadOpt) };
            let rest_starts_with_eq =
                self.next_char.map(|(i, off)| self.argv[i].as_bytes().get(off) == Some(&b'=')).unwrap_or(false);
            match o.arg {
                ArgKind::None => {
                    if long_arg.is_some() || rest_starts_with_eq {
                        return self.err(PoptError::UnwantedArg);
                    }
                    return Next::Opt { val: o.val, arg: None };
                }
                ArgKind::Required | ArgKind::Optional => {
                    let arg = if let Some(a) = long_arg {
                        Some(a)
                    } else if let Some((i, off)) = self.next_char.take() {
                        let rest = &self.argv[i][off..];
                        Some(rest.strip_prefix('=').unwrap_or(rest).to_string())
                    } else if self.next >= self.argv.len() {
                        if o.arg == ArgKind::Required {
                            return self.err(PoptError::NoArg);
                        }
                        None
                    } else if o.arg == ArgKind::Optional && self.argv[self.next].starts_with('-') {
                        None
                    } else {
                        self.next += 1;
                        Some(self.argv[self.next - 1].clone())
                    };
                    return Next::Opt { val: o.val, arg };
                }
            }
        }
    }

    /// How many words of argv have been consumed (popt's `os->next`).
    pub fn consumed(&self) -> usize {
        self.next
    }

    /// `poptGetArg`: the next leftover word.
    pub fn next_arg(&mut self) -> Option<String> {
        let a = self.leftovers.get(self.next_leftover).cloned();
        if a.is_some() {
            self.next_leftover += 1;
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &[OptSpec] = &[
        OptSpec { long: Some("list"), short: Some(b'L'), arg: ArgKind::None, val: b'L' as u32 },
        OptSpec { long: Some("numeric"), short: Some(b'n'), arg: ArgKind::None, val: b'n' as u32 },
        OptSpec { long: Some("tcp-service"), short: Some(b't'), arg: ArgKind::Required, val: b't' as u32 },
        OptSpec { long: Some("persistent"), short: Some(b'p'), arg: ArgKind::Optional, val: b'p' as u32 },
        OptSpec { long: Some("set"), short: None, arg: ArgKind::None, val: 128 },
    ];

    fn scan(words: &[&str]) -> (Vec<Next>, Vec<String>) {
        let argv: Vec<String> = std::iter::once("prog").chain(words.iter().copied()).map(String::from).collect();
        let mut s = Scanner::with_posix(T, &argv, false);
        let mut out = Vec::new();
        loop {
            let n = s.next_opt();
            let stop = !matches!(n, Next::Opt { .. });
            out.push(n);
            if stop {
                break;
            }
        }
        let mut left = Vec::new();
        while let Some(a) = s.next_arg() {
            left.push(a);
        }
        (out, left)
    }

    fn opt(c: u8, arg: Option<&str>) -> Next {
        Next::Opt { val: c as u32, arg: arg.map(String::from) }
    }

    #[test]
    fn bundles_and_attached_arguments() {
        let (o, _) = scan(&["-Lnt1.2.3.4:80"]);
        assert_eq!(o, [opt(b'L', None), opt(b'n', None), opt(b't', Some("1.2.3.4:80")), Next::End]);
        let (o, _) = scan(&["-t=x", "--tcp-service=y", "--tcp-service", "z"]);
        assert_eq!(o, [opt(b't', Some("x")), opt(b't', Some("y")), opt(b't', Some("z")), Next::End]);
    }

    #[test]
    fn optional_argument_skips_dash_words() {
        let (o, _) = scan(&["-p", "-n", "-p", "60", "-p"]);
        assert_eq!(o, [opt(b'p', None), opt(b'n', None), opt(b'p', Some("60")), opt(b'p', None), Next::End]);
    }

    #[test]
    fn errors_name_the_last_word() {
        assert_eq!(scan(&["-Lq"]).0[1], Next::Error { error: PoptError::BadOpt, bad: "-Lq".into() });
        assert_eq!(scan(&["-L", "-t"]).0[1], Next::Error { error: PoptError::NoArg, bad: "-t".into() });
        assert_eq!(scan(&["--bogus"]).0[0], Next::Error { error: PoptError::BadOpt, bad: "--bogus".into() });
        assert_eq!(scan(&["-n=3"]).0[0], Next::Error { error: PoptError::UnwantedArg, bad: "-n=3".into() });
        assert_eq!(scan(&["--set="]).0[0], Next::Error { error: PoptError::UnwantedArg, bad: "--set=".into() });
        // A single dash never introduces a long option: "-list" is -l -i -s -t.
        assert_eq!(scan(&["-list"]).0[0], Next::Error { error: PoptError::BadOpt, bad: "-list".into() });
    }

    #[test]
    fn leftovers_and_double_dash() {
        let (o, left) = scan(&["a", "-L", "-", "--", "-n", "b"]);
        assert_eq!(o, [opt(b'L', None), Next::End]);
        assert_eq!(left, ["a", "-", "-n", "b"]);
    }

    #[test]
    fn posix_me_harder_stops_at_the_first_word() {
        let argv: Vec<String> = ["p", "x", "-L"].iter().map(|s| s.to_string()).collect();
        let mut s = Scanner::with_posix(T, &argv, true);
        assert_eq!(s.next_opt(), Next::End);
        assert_eq!(s.next_arg().as_deref(), Some("x"));
        assert_eq!(s.next_arg().as_deref(), Some("-L"));
    }
}
