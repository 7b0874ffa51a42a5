//! Java `Properties.load` text, as Kafka reads `server.properties` and its tools read
//! `--command-config` / `--producer.config` files: one parser for the broker and the tools.
//!
//! Nothing is refused: like Java, a line with no separator is a key with an empty value,
//! and a malformed `\uXXXX` escape keeps its text (Java throws) so that the config's own
//! validation names the key and value. Values lose trailing whitespace, as Kafka trims them.

/// Java `Properties.load` syntax: `#`/`!` comment lines, `key=value`, `key: value` or `key value`, a line
/// ending in an odd number of backslashes continues on the next one, `\t \n \r \f \uXXXX \x` escapes.
/// Values lose trailing whitespace (Kafka trims them).
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    let is_ws = |c: char| c == ' ' || c == '\t' || c == '\x0c';
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let mut out = Vec::new();
    while let Some(first) = lines.next() {
        let first = first.trim_start_matches(is_ws);
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = String::new();
        let mut cur = first;
        loop {
            let continues = cur.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1;
            if !continues {
                logical.push_str(cur);
                break;
            }
            logical.push_str(&cur[..cur.len() - 1]);
            match lines.next() {
                Some(next) => cur = next.trim_start_matches(is_ws),
                None => break,
            }
        }
        out.push(split_key_value(&logical, is_ws));
    }
    out
}

fn split_key_value(line: &str, is_ws: impl Fn(char) -> bool) -> (String, String) {
    let mut key_end = line.len();
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' || is_ws(c) {
            key_end = i;
            break;
        }
    }
    let rest = line[key_end..].trim_start_matches(&is_ws);
    let rest = rest
        .strip_prefix(['=', ':'])
        .unwrap_or(rest)
        .trim_start_matches(&is_ws);
    (
        unescape(&line[..key_end]),
        unescape(rest).trim_end().to_string(),
    )
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&hex), // Java throws; we keep the text and let validation speak
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}
