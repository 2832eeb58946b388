//! Value parsing for config options: turns the words given for an option (config file line,
//! `--name value` argument or CONFIG SET) into the canonical text CONFIG GET prints, or gives
//! Redis's reason text for rejecting them.
//!
//! Each kind mirrors one of Redis's `config.c` setters so error texts and normal forms match:
//! memory sizes become bytes, enums lower-case, `save` pairs, the client-output-buffer-limit
//! classes merged into the current value, notify-keyspace-events flags reordered.

use super::{Kind, OptionSpec};

/// Parses a memory value as Redis's `memtoull`: digits with an optional unit (b, k=1000,
/// kb=1024, m, mb, g, gb; any case). No sign, no spaces; an empty number counts as 0.
pub fn parse_memory(text: &str) -> Option<u64> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    let n: u64 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    n.checked_mul(mul)
}

/// Normalises `args` for option `spec` into its canonical stored text. `current` is the value
/// before the change (client-output-buffer-limit only replaces the classes it names).
pub fn normalize(spec: &OptionSpec, args: &[String], current: &str) -> Result<String, String> {
    let single = || -> Result<&str, String> {
        match args {
            [one] => Ok(one.as_str()),
            _ => Err("wrong number of arguments".into()),
        }
    };
    match spec.kind {
        Kind::Bool => match single()?.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Int { min, max } => {
            let n = crate::strconv::parse_i64_strict(single()?.as_bytes())
                .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
            if n < min || n > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            // Redis clamps hz to its working range when applying it, and reports the clamped value.
            if spec.name == "hz" {
                return Ok(n.clamp(1, 500).to_string());
            }
            Ok(n.to_string())
        }
        Kind::Octal { max } => {
            let text = single()?;
            let n = i64::from_str_radix(text, 8)
                .ok()
                .filter(|_| !text.starts_with('+'));
            let n = n.ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
            if n < 0 || n > max {
                return Err(format!("argument must be between 0 and {max} inclusive"));
            }
            Ok(format!("{n:o}"))
        }
        Kind::Memory { min, max } => {
            let n = parse_memory(single()?)
                .ok_or_else(|| "argument must be a memory value".to_string())?;
            if (n as i128) < min as i128 || n > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(n.to_string())
        }
        Kind::MemoryOrPercent => {
            let text = single()?;
            if let Some(pct) = text.strip_suffix('%') {
                let n = crate::strconv::parse_i64_strict(pct.as_bytes())
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| "argument must be a memory or percent value".to_string())?;
                if n > 100 {
                    return Err("percentage argument must be less or equal to 100".into());
                }
                return Ok(format!("{n}%"));
            }
            let n = parse_memory(text)
                .ok_or_else(|| "argument must be a memory or percent value".to_string())?;
            if n > i64::MAX as u64 {
                return Err(format!(
                    "argument must be between -100 and {} inclusive",
                    i64::MAX
                ));
            }
            Ok(n.to_string())
        }
        Kind::Enum(values) => {
            let text = single()?.to_ascii_lowercase();
            if !values.contains(&text.as_str()) {
                return Err(format!(
                    "argument(s) must be one of the following: {}",
                    values.join(", ")
                ));
            }
            // `relative` shares its value with `yes`, and Redis prints the first name listed.
            if spec.name == "oom-score-adj" && text == "relative" {
                return Ok("yes".into());
            }
            Ok(text)
        }
        Kind::ShutdownFlags => shutdown_flags(single()?),
        Kind::Str => Ok(single()?.to_string()),
        Kind::Save => save(args),
        Kind::ClientOutputBufferLimit => client_output_buffer_limit(args, current),
        Kind::NotifyEvents => notify_keyspace_events(single()?),
        Kind::OomScoreAdjValues => oom_score_adj_values(args),
        Kind::Percentiles => percentiles(args),
        Kind::Bind => {
            if args.len() > 16 {
                return Err("Too many bind addresses specified.".into());
            }
            Ok(args.join(" "))
        }
        Kind::ReplicaOf => {
            let [host, port] = args else {
                return Err("wrong number of arguments".into());
            };
            if host.eq_ignore_ascii_case("no") && port.eq_ignore_ascii_case("one") {
                return Ok(String::new());
            }
            match port.parse::<i64>() {
                Ok(p) if (0..=65535).contains(&p) && !port.starts_with('+') => {
                    Ok(format!("{host} {p}"))
                }
                _ => Err("Invalid master port".into()),
            }
        }
    }
}

/// `save`: pairs of "seconds changes" (seconds >= 1, changes >= 0), or a single "" for none.
fn save(args: &[String]) -> Result<String, String> {
    if args.iter().all(|a| a.is_empty()) && args.len() <= 1 {
        return Ok(String::new());
    }
    // `--save "60 1"` and `CONFIG SET save "3600 1 300 100"` carry several words in one
    // argument; Redis splits them at each single space (`sdssplitlen`), so doubled or outer
    // spaces leave empty words, which are invalid.
    let words: Vec<&str> = args.iter().flat_map(|a| a.split(' ')).collect();
    if !words.len().is_multiple_of(2) {
        return Err("Invalid save parameters".into());
    }
    let mut out = Vec::with_capacity(words.len());
    for (i, word) in words.iter().enumerate() {
        let min = if i % 2 == 0 { 1 } else { 0 };
        match word.parse::<i64>() {
            Ok(n) if n >= min && !word.starts_with('+') && !word.is_empty() => {
                out.push(n.to_string())
            }
            _ => return Err("Invalid save parameters".into()),
        }
    }
    Ok(out.join(" "))
}

const COBL_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// `client-output-buffer-limit <class> <hard> <soft> <seconds> ...`, merged into `current`.
fn client_output_buffer_limit(args: &[String], current: &str) -> Result<String, String> {
    if !args.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let current_words: Vec<&str> = current.split(' ').collect();
    let mut limits: Vec<[String; 3]> = COBL_CLASSES
        .iter()
        .map(|class| {
            let at = current_words.chunks(4).find(|g| g.first() == Some(class));
            match at {
                Some([_, h, s, t]) => [h.to_string(), s.to_string(), t.to_string()],
                _ => ["0".into(), "0".into(), "0".into()],
            }
        })
        .collect();
    let mut updates = Vec::new();
    for group in args.chunks(4) {
        let class = match group[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let hard = parse_memory(&group[1]);
        let soft = parse_memory(&group[2]);
        let secs = group[3]
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0 && *n <= i32::MAX as i64);
        match (hard, soft, secs) {
            (Some(h), Some(s), Some(t)) => {
                updates.push((class, [h.to_string(), s.to_string(), t.to_string()]))
            }
            _ => {
                return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                )
            }
        }
    }
    for (class, values) in updates {
        limits[class] = values;
    }
    let groups: Vec<String> = COBL_CLASSES
        .iter()
        .zip(&limits)
        .map(|(c, [h, s, t])| format!("{c} {h} {s} {t}"))
        .collect();
    Ok(groups.join(" "))
}

/// Keyspace-notification classes, each a flag bit, in the order Redis prints them.
const NOTIFY_CLASSES: &[(char, u32)] = &[
    ('g', 1 << 2),
    ('$', 1 << 3),
    ('l', 1 << 4),
    ('s', 1 << 5),
    ('h', 1 << 6),
    ('z', 1 << 7),
    ('x', 1 << 8),
    ('e', 1 << 9),
    ('t', 1 << 10),
    ('d', 1 << 12),
    ('n', 1 << 13),
];
const NOTIFY_KEYSPACE: u32 = 1 << 0;
const NOTIFY_KEYEVENT: u32 = 1 << 1;
const NOTIFY_KEY_MISS: u32 = 1 << 11;
/// `A`: every class except key-miss and new-key events.
const NOTIFY_ALL: u32 = (1 << 2)
    | (1 << 3)
    | (1 << 4)
    | (1 << 5)
    | (1 << 6)
    | (1 << 7)
    | (1 << 8)
    | (1 << 9)
    | (1 << 10)
    | (1 << 12);

/// Parses notify-keyspace-events flags into a bit set.
pub fn notify_flags(text: &str) -> Option<u32> {
    let mut flags = 0;
    for c in text.chars() {
        flags |= match c {
            'A' => NOTIFY_ALL,
            'K' => NOTIFY_KEYSPACE,
            'E' => NOTIFY_KEYEVENT,
            'm' => NOTIFY_KEY_MISS,
            c => NOTIFY_CLASSES.iter().find(|(f, _)| *f == c)?.1,
        };
    }
    Some(flags)
}

fn notify_keyspace_events(text: &str) -> Result<String, String> {
    let flags = notify_flags(text)
        .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string())?;
    let mut out = String::new();
    if flags & NOTIFY_ALL == NOTIFY_ALL {
        out.push('A');
    }
    for &(c, bit) in NOTIFY_CLASSES {
        if flags & bit != 0 && (flags & NOTIFY_ALL != NOTIFY_ALL || bit & NOTIFY_ALL == 0) {
            out.push(c);
        }
    }
    for (c, bit) in [
        ('K', NOTIFY_KEYSPACE),
        ('E', NOTIFY_KEYEVENT),
        ('m', NOTIFY_KEY_MISS),
    ] {
        if flags & bit != 0 {
            out.push(c);
        }
    }
    Ok(out)
}

fn oom_score_adj_values(args: &[String]) -> Result<String, String> {
    if args.len() != 3 {
        return Err("wrong number of arguments".into());
    }
    let mut out = Vec::with_capacity(3);
    for word in args {
        match word.parse::<i64>() {
            Ok(n) if (-2000..=2000).contains(&n) => out.push(n.to_string()),
            _ => {
                return Err(
                    "Invalid oom-score-adj-values, elements must be between -2000 and 2000.".into(),
                )
            }
        }
    }
    Ok(out.join(" "))
}

fn percentiles(args: &[String]) -> Result<String, String> {
    if args.len() == 1 && args[0].is_empty() {
        return Ok(String::new());
    }
    let mut out = Vec::with_capacity(args.len());
    for word in args {
        let p: f64 = word
            .parse()
            .ok()
            .filter(|p: &f64| p.is_finite() && !word.starts_with('+'))
            .ok_or_else(|| "Invalid latency-tracking-info-percentiles parameters".to_string())?;
        if !(0.0..=100.0).contains(&p) {
            return Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .into(),
            );
        }
        // Redis prints "%f" with trailing zeros trimmed.
        let text = format!("{p:.6}");
        out.push(text.trim_end_matches('0').trim_end_matches('.').to_string());
    }
    Ok(out.join(" "))
}

/// `shutdown-on-sigint` / `shutdown-on-sigterm`: `default`, or a set of save/nosave/now/force.
fn shutdown_flags(text: &str) -> Result<String, String> {
    let err = || {
        "argument(s) must be one of the following: default, save, nosave, now, force".to_string()
    };
    let words: Vec<String> = text.split(' ').map(|w| w.to_ascii_lowercase()).collect();
    if words.len() == 1 && words[0] == "default" {
        return Ok("default".into());
    }
    let mut out = Vec::new();
    for name in ["save", "nosave", "now", "force"] {
        if words.iter().any(|w| w == name) {
            out.push(name);
        }
    }
    let all_known = words
        .iter()
        .all(|w| ["save", "nosave", "now", "force"].contains(&w.as_str()));
    if !all_known || out.is_empty() || (out.contains(&"save") && out.contains(&"nosave")) {
        return Err(err());
    }
    Ok(out.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::find_option;

    fn norm(name: &str, args: &[&str]) -> Result<String, String> {
        let spec = find_option(name).unwrap();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        normalize(spec, &args, spec.default)
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1KB"), Some(1024));
        assert_eq!(parse_memory("2gb"), Some(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_memory("12"), Some(12));
        assert_eq!(parse_memory("gb"), Some(0));
        assert_eq!(parse_memory("x"), None);
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("1.5gb"), None);
        assert_eq!(parse_memory("99999999999999999999gb"), None);
    }

    #[test]
    fn scalar_kinds() {
        assert_eq!(norm("maxmemory", &["1gb"]).unwrap(), "1073741824");
        assert_eq!(
            norm("maxmemory", &["-1"]).unwrap_err(),
            "argument must be a memory value"
        );
        assert_eq!(
            norm("hz", &["+5"]).unwrap_err(),
            "argument couldn't be parsed into an integer"
        );
        assert_eq!(norm("hz", &["1000"]).unwrap(), "500");
        assert_eq!(
            norm("port", &["99999"]).unwrap_err(),
            "argument must be between 0 and 65535 inclusive"
        );
        assert_eq!(norm("appendonly", &["YES"]).unwrap(), "yes");
        assert_eq!(
            norm("maxmemory-policy", &["ALLKEYS-LRU"]).unwrap(),
            "allkeys-lru"
        );
        assert_eq!(norm("oom-score-adj", &["relative"]).unwrap(), "yes");
        assert_eq!(norm("maxmemory-clients", &["10%"]).unwrap(), "10%");
        assert_eq!(
            norm("maxmemory-clients", &["200%"]).unwrap_err(),
            "percentage argument must be less or equal to 100"
        );
        assert_eq!(norm("maxmemory-clients", &["5mb"]).unwrap(), "5242880");
        assert_eq!(
            norm("proto-max-bulk-len", &["1k"]).unwrap_err(),
            "argument must be between 1048576 and 9223372036854775807 inclusive"
        );
        assert_eq!(norm("unixsocketperm", &["700"]).unwrap(), "700");
        assert_eq!(
            norm("hz", &["5", "6"]).unwrap_err(),
            "wrong number of arguments"
        );
    }

    #[test]
    fn multi_word_kinds() {
        assert_eq!(
            norm("save", &["100", "10", "200", "5"]).unwrap(),
            "100 10 200 5"
        );
        assert_eq!(norm("save", &[""]).unwrap(), "");
        assert!(norm("save", &["0", "5"]).is_err());
        assert!(norm("save", &["100"]).is_err());
        assert_eq!(
            norm("client-output-buffer-limit", &["normal", "1mb", "2mb", "3"]).unwrap(),
            "normal 1048576 2097152 3 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        assert_eq!(
            norm("client-output-buffer-limit", &["replica", "1", "2", "3"]).unwrap(),
            "normal 0 0 0 slave 1 2 3 pubsub 33554432 8388608 60"
        );
        assert!(
            norm("client-output-buffer-limit", &["master", "1", "2", "3"])
                .unwrap_err()
                .starts_with("Invalid client class")
        );
        assert_eq!(
            norm("oom-score-adj-values", &["800", "200", "0"]).unwrap(),
            "800 200 0"
        );
        assert_eq!(
            norm("latency-tracking-info-percentiles", &["50.5", "99"]).unwrap(),
            "50.5 99"
        );
        assert_eq!(norm("replicaof", &["no", "one"]).unwrap(), "");
        assert_eq!(
            norm("replicaof", &["host", "x"]).unwrap_err(),
            "Invalid master port"
        );
    }

    #[test]
    fn notify_events_normalised_like_redis() {
        for (given, printed) in [
            ("KEA", "AKE"),
            ("Kg$", "g$K"),
            ("Ex", "xE"),
            ("$lshzxetmd", "$lshzxetdm"),
            ("gA", "A"),
            ("nK", "nK"),
            ("", ""),
        ] {
            assert_eq!(
                norm("notify-keyspace-events", &[given]).unwrap(),
                printed,
                "{given}"
            );
        }
        assert!(norm("notify-keyspace-events", &["xyz"]).is_err());
    }
}
