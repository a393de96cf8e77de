//! JSON as iproute2's `json_writer.c` writes it: compact with `-j`, and with `-j -p` its
//! own pretty layout (four-space indent, `[ {` ... `},{` ... `} ]`, `[ "a","b" ]`), so
//! that `dpip -j [-p]` reads like `ip -j [-p]`.

use std::fmt::Write as _;

/// A JSON writer; [`Json::finish`] returns the text with its final newline.
#[derive(Debug)]
pub struct Json {
    out: String,
    pretty: bool,
    depth: usize,
    /// The separator owed before the next element (`,`), or none.
    sep: bool,
}

impl Json {
    pub fn new(pretty: bool) -> Json {
        Json { out: String::new(), pretty, depth: 0, sep: false }
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("    ");
        }
    }

    fn eol(&mut self) {
        if self.pretty {
            self.out.push('\n');
            self.indent();
        }
    }

    fn eor(&mut self) {
        if self.sep {
            self.out.push(',');
        }
        self.sep = true;
    }

    fn begin(&mut self, c: char) {
        self.eor();
        self.out.push(c);
        self.depth += 1;
        self.sep = false;
    }

    fn end(&mut self, c: char) {
        self.depth -= 1;
        if self.sep {
            self.eol();
        }
        self.out.push(c);
        self.sep = true;
    }

    pub fn start_object(&mut self) {
        self.begin('{');
    }

    pub fn end_object(&mut self) {
        self.end('}');
    }

    pub fn start_array(&mut self) {
        self.begin('[');
        if self.pretty {
            self.out.push(' ');
        }
    }

    pub fn end_array(&mut self) {
        if self.pretty && self.sep {
            self.out.push(' ');
        }
        self.sep = false;
        self.end(']');
    }

    /// A member's name; its value follows.
    pub fn name(&mut self, name: &str) {
        self.eor();
        self.eol();
        self.sep = false;
        self.string_raw(name);
        self.out.push(':');
        if self.pretty {
            self.out.push(' ');
        }
    }

    fn string_raw(&mut self, s: &str) {
        self.out.push('"');
        for c in s.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '\t' => self.out.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(self.out, "\\u{:04x}", c as u32);
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }

    pub fn string(&mut self, s: &str) {
        self.eor();
        self.string_raw(s);
    }

    pub fn uint(&mut self, n: u64) {
        self.eor();
        let _ = write!(self.out, "{n}");
    }

    pub fn boolean(&mut self, b: bool) {
        self.eor();
        self.out.push_str(if b { "true" } else { "false" });
    }

    pub fn kv_str(&mut self, k: &str, v: &str) {
        self.name(k);
        self.string(v);
    }

    pub fn kv_uint(&mut self, k: &str, v: u64) {
        self.name(k);
        self.uint(v);
    }

    pub fn kv_bool(&mut self, k: &str, v: bool) {
        self.name(k);
        self.boolean(v);
    }

    /// `"k": [ "a","b" ]`.
    pub fn kv_strings(&mut self, k: &str, v: &[&str]) {
        self.name(k);
        self.start_array();
        for s in v {
            self.string(s);
        }
        self.end_array();
    }

    pub fn finish(mut self) -> String {
        self.out.push('\n');
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(pretty: bool) -> String {
        let mut j = Json::new(pretty);
        j.start_array();
        for (dst, flags) in [("10.90.1.254", vec!["PERMANENT"]), ("10.90.1.2", vec![])] {
            j.start_object();
            j.kv_str("dst", dst);
            j.kv_uint("n", 1);
            j.kv_strings("state", &flags);
            j.end_object();
        }
        j.end_array();
        j.finish()
    }

    #[test]
    fn compact_and_pretty_as_iproute2() {
        assert_eq!(
            sample(false),
            "[{\"dst\":\"10.90.1.254\",\"n\":1,\"state\":[\"PERMANENT\"]},{\"dst\":\"10.90.1.2\",\"n\":1,\"state\":[]}]\n"
        );
        // `ip -j -p neigh` of iproute2 6.1, character for character
        assert_eq!(
            sample(true),
            "[ {\n        \"dst\": \"10.90.1.254\",\n        \"n\": 1,\n        \"state\": [ \"PERMANENT\" ]\n    },{\n        \"dst\": \"10.90.1.2\",\n        \"n\": 1,\n        \"state\": [ ]\n    } ]\n"
        );
    }

    #[test]
    fn nested_objects_indent_as_ip_addr() {
        let mut j = Json::new(true);
        j.start_array();
        j.start_object();
        j.kv_uint("ifindex", 3);
        j.name("addr_info");
        j.start_array();
        j.start_object();
        j.kv_str("family", "inet");
        j.end_object();
        j.end_array();
        j.end_object();
        j.end_array();
        assert_eq!(
            j.finish(),
            "[ {\n        \"ifindex\": 3,\n        \"addr_info\": [ {\n                \"family\": \"inet\"\n            } ]\n    } ]\n"
        );
        let mut j = Json::new(false);
        j.start_array();
        j.end_array();
        assert_eq!(j.finish(), "[]\n");
        let mut j = Json::new(false);
        j.string("a\"b\\c\n");
        assert_eq!(j.finish(), "\"a\\\"b\\\\c\\n\"\n");
    }
}
