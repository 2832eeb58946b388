//! COMMAND DOCS beyond summary/since/group/complexity: each command's argument tree, history,
//! doc flags and deprecation, declared once per command in the data module of its group
//! (`string.rs`, `sorted_set.rs`, ...) as one [`Doc`] and parsed into a tree the first time
//! COMMAND DOCS needs it.
//!
//! # The argument syntax
//!
//! A declaration lists the arguments in order, separated by spaces. Each argument is
//!
//! ```text
//! flags? core attributes* group?
//! flags       ?  optional      *  multiple      +  multiple_token
//! core        TOKEN               a pure-token named after its token in lower case (`NX`)
//!             name                a string argument (`value`)
//!             name:type           `key:key`, `count:int`, `score_member:block(...)`
//!             TOKEN:name:type     an argument introduced by a token (`EX:seconds:int`);
//!                                 a pure-token whose name is not its token (`ALPHA:sorting:tok`)
//! type        key str int dbl pat time tok oneof block
//!             (key, string, integer, double, pattern, unix-time, pure-token, oneof, block)
//! attributes  @7.0.0   since           !6.2.0   deprecated_since
//!             #1       key_spec_index (a `key` argument without one has index 0)
//!             ='text'  display_text    %'text'  summary
//! group       (arg arg ...)          the arguments of a oneof or a block
//! ```
//!
//! A name or token that is not a plain word (`'ip:port'`, `'*'`) is written in single quotes.
//! For example SET's: `key:key value ?condition:oneof@2.6.12(NX XX) ?GET@6.2.0 ...`.
//! The replies follow Redis's field order (name, type, display_text, key_spec_index, token,
//! summary, since, deprecated_since, flags, arguments). A command without a declaration still
//! answers COMMAND DOCS, without `arguments`; `tests::undeclared_commands` lists them.

mod bitmap;
mod cluster;
mod connection;
mod generic;
mod geo;
mod hash;
mod hyperloglog;
mod list;
mod pubsub;
mod scripting;
mod server;
mod set;
mod sorted_set;
mod stream;
mod string;
mod transactions;

use crate::protocol::Reply;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

/// One command's (or subcommand's, `config|get`) documentation beyond its table row.
pub struct Doc {
    /// `set`, or `config|get` for a subcommand.
    pub name: &'static str,
    /// The arguments, in the syntax of the module comment ("" for none).
    pub args: &'static str,
    /// (version, what changed), oldest first.
    pub history: &'static [(&'static str, &'static str)],
    /// `deprecated`, `syscmd`.
    pub doc_flags: &'static [&'static str],
    pub deprecated_since: &'static str,
    pub replaced_by: &'static str,
    /// The complexity line for a command whose table row has none (subcommands declared
    /// with a shared constructor, containers); "" otherwise.
    pub complexity: &'static str,
}

impl Doc {
    pub const fn new(name: &'static str, args: &'static str) -> Doc {
        Doc {
            name,
            args,
            history: &[],
            doc_flags: &[],
            deprecated_since: "",
            replaced_by: "",
            complexity: "",
        }
    }

    pub const fn complexity(self, complexity: &'static str) -> Doc {
        Doc { complexity, ..self }
    }

    pub const fn history(self, history: &'static [(&'static str, &'static str)]) -> Doc {
        Doc { history, ..self }
    }

    /// Deprecated since `since`, in favour of `replaced_by` (Redis's text, with its
    /// backquotes).
    pub const fn deprecated(self, since: &'static str, replaced_by: &'static str) -> Doc {
        Doc {
            doc_flags: &["deprecated"],
            deprecated_since: since,
            replaced_by,
            ..self
        }
    }

    /// A command meant for servers, not users (PSYNC, REPLCONF ...).
    pub const fn syscmd(self) -> Doc {
        Doc {
            doc_flags: &["syscmd"],
            ..self
        }
    }
}

/// Every group's declarations.
fn all_docs() -> impl Iterator<Item = &'static Doc> {
    [
        bitmap::DOCS,
        cluster::DOCS,
        connection::DOCS,
        generic::DOCS,
        geo::DOCS,
        hash::DOCS,
        hyperloglog::DOCS,
        list::DOCS,
        pubsub::DOCS,
        scripting::DOCS,
        server::DOCS,
        set::DOCS,
        sorted_set::DOCS,
        stream::DOCS,
        string::DOCS,
        transactions::DOCS,
    ]
    .into_iter()
    .flatten()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgType {
    Key,
    String,
    Integer,
    Double,
    Pattern,
    UnixTime,
    PureToken,
    OneOf,
    Block,
}

impl ArgType {
    fn from_code(code: &str) -> Option<ArgType> {
        Some(match code {
            "key" => ArgType::Key,
            "str" => ArgType::String,
            "int" => ArgType::Integer,
            "dbl" => ArgType::Double,
            "pat" => ArgType::Pattern,
            "time" => ArgType::UnixTime,
            "tok" => ArgType::PureToken,
            "oneof" => ArgType::OneOf,
            "block" => ArgType::Block,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ArgType::Key => "key",
            ArgType::String => "string",
            ArgType::Integer => "integer",
            ArgType::Double => "double",
            ArgType::Pattern => "pattern",
            ArgType::UnixTime => "unix-time",
            ArgType::PureToken => "pure-token",
            ArgType::OneOf => "oneof",
            ArgType::Block => "block",
        }
    }
}

/// One argument of the tree.
#[derive(Debug, PartialEq, Eq)]
pub struct Arg {
    pub name: Cow<'static, str>,
    pub kind: ArgType,
    pub display_text: Option<&'static str>,
    pub key_spec_index: Option<u32>,
    pub token: Option<&'static str>,
    pub summary: Option<&'static str>,
    pub since: Option<&'static str>,
    pub deprecated_since: Option<&'static str>,
    pub optional: bool,
    pub multiple: bool,
    pub multiple_token: bool,
    /// The arguments of a oneof or block.
    pub args: Vec<Arg>,
}

/// A declaration with its arguments parsed.
pub struct Parsed {
    pub doc: &'static Doc,
    pub args: Vec<Arg>,
}

/// The parsed declaration of `full_name` (`set`, `config|get`), if it has one. A declaration
/// that does not parse (a unit test checks that none does) counts as none.
pub fn find(full_name: &str) -> Option<&'static Parsed> {
    static TABLE: OnceLock<HashMap<&'static str, Parsed>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            all_docs()
                .filter_map(|doc| {
                    let args = parse(doc.args).ok()?;
                    Some((doc.name, Parsed { doc, args }))
                })
                .collect()
        })
        .get(full_name)
}

/// Parses an argument declaration (the syntax of the module comment).
pub fn parse(text: &'static str) -> Result<Vec<Arg>, String> {
    let mut parser = Parser { text, pos: 0 };
    let args = parser.list(false)?;
    Ok(args)
}

struct Parser {
    text: &'static str,
    pos: usize,
}

/// A word of the syntax and whether it was quoted.
type Word = (&'static str, bool);

impl Parser {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn error(&self, what: &str) -> String {
        format!("{what} at byte {} of {:?}", self.pos, self.text)
    }

    /// Arguments up to the end (or the `)` closing a group).
    fn list(&mut self, in_group: bool) -> Result<Vec<Arg>, String> {
        let mut args = Vec::new();
        loop {
            while self.peek() == Some(b' ') {
                self.pos += 1;
            }
            match self.peek() {
                None if in_group => return Err(self.error("unclosed group")),
                None => return Ok(args),
                Some(b')') if in_group => {
                    self.pos += 1;
                    return Ok(args);
                }
                Some(b')') => return Err(self.error("unmatched ')'")),
                Some(_) => args.push(self.item()?),
            }
        }
    }

    fn word(&mut self) -> Result<Word, String> {
        if self.peek() == Some(b'\'') {
            let start = self.pos + 1;
            let len = self.text[start..]
                .find('\'')
                .ok_or_else(|| self.error("unclosed quote"))?;
            self.pos = start + len + 1;
            return Ok((&self.text[start..start + len], true));
        }
        let start = self.pos;
        while matches!(self.peek(), Some(b) if b.is_ascii_alphanumeric() || b"_-.".contains(&b)) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.error("expected a word"));
        }
        Ok((&self.text[start..self.pos], false))
    }

    fn item(&mut self) -> Result<Arg, String> {
        let (mut optional, mut multiple, mut multiple_token) = (false, false, false);
        loop {
            match self.peek() {
                Some(b'?') => optional = true,
                Some(b'*') => multiple = true,
                Some(b'+') => multiple_token = true,
                _ => break,
            }
            self.pos += 1;
        }
        let mut parts = vec![self.word()?];
        while self.peek() == Some(b':') && parts.len() < 3 {
            self.pos += 1;
            parts.push(self.word()?);
        }
        let type_of = |(code, _): Word, parser: &Parser| {
            ArgType::from_code(code).ok_or_else(|| parser.error(&format!("unknown type {code:?}")))
        };
        let (token, name, kind) = match parts[..] {
            [(word, false)] if word.starts_with(|c: char| c.is_ascii_uppercase()) => {
                let name = Cow::Owned(word.to_ascii_lowercase());
                (Some(word), name, ArgType::PureToken)
            }
            [(name, false)] => (None, Cow::Borrowed(name), ArgType::String),
            [(name, _), kind] => (None, Cow::Borrowed(name), type_of(kind, self)?),
            [(token, _), (name, _), kind] => {
                (Some(token), Cow::Borrowed(name), type_of(kind, self)?)
            }
            _ => return Err(self.error("a quoted word needs a type")),
        };
        let mut arg = Arg {
            name,
            kind,
            display_text: None,
            key_spec_index: (kind == ArgType::Key).then_some(0),
            token,
            summary: None,
            since: None,
            deprecated_since: None,
            optional,
            multiple,
            multiple_token,
            args: Vec::new(),
        };
        let mut group = false;
        while let Some(sigil) = self.peek() {
            if matches!(sigil, b' ' | b')') {
                break;
            }
            self.pos += 1;
            match sigil {
                b'@' => arg.since = Some(self.word()?.0),
                b'!' => arg.deprecated_since = Some(self.word()?.0),
                b'#' => {
                    let index = self.word()?.0;
                    let index = index
                        .parse()
                        .map_err(|_| self.error("bad key_spec_index"))?;
                    arg.key_spec_index = Some(index);
                }
                b'=' => arg.display_text = Some(self.quoted()?),
                b'%' => arg.summary = Some(self.quoted()?),
                b'(' => {
                    if group || !matches!(kind, ArgType::OneOf | ArgType::Block) {
                        return Err(self.error("a group belongs to one oneof or block"));
                    }
                    group = true;
                    arg.args = self.list(true)?;
                }
                _ => return Err(self.error("unexpected character")),
            }
        }
        if matches!(kind, ArgType::OneOf | ArgType::Block) && !group {
            return Err(self.error("a oneof or block needs its arguments"));
        }
        Ok(arg)
    }

    fn quoted(&mut self) -> Result<&'static str, String> {
        match self.word()? {
            (text, true) => Ok(text),
            _ => Err(self.error("expected a quoted text")),
        }
    }
}

/// One argument as COMMAND DOCS replies it.
pub fn arg_reply(arg: &Arg) -> Reply {
    let field = Reply::bulk_static;
    let mut fields = vec![
        (field("name"), Reply::bulk_str(&arg.name)),
        (field("type"), Reply::bulk_static(arg.kind.name())),
    ];
    if let Some(text) = arg.display_text {
        fields.push((field("display_text"), Reply::bulk_static(text)));
    }
    if let Some(index) = arg.key_spec_index {
        fields.push((field("key_spec_index"), Reply::Int(index as i64)));
    }
    for (name, value) in [
        ("token", arg.token),
        ("summary", arg.summary),
        ("since", arg.since),
        ("deprecated_since", arg.deprecated_since),
    ] {
        if let Some(value) = value {
            fields.push((field(name), Reply::bulk_static(value)));
        }
    }
    let flags: Vec<Reply> = [
        (arg.optional, "optional"),
        (arg.multiple, "multiple"),
        (arg.multiple_token, "multiple_token"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, name)| Reply::status(name))
    .collect();
    if !flags.is_empty() {
        fields.push((field("flags"), Reply::Set(flags)));
    }
    if matches!(arg.kind, ArgType::OneOf | ArgType::Block) {
        fields.push((field("arguments"), args_reply(&arg.args)));
    }
    Reply::Map(fields)
}

pub fn args_reply(args: &[Arg]) -> Reply {
    Reply::Array(args.iter().map(arg_reply).collect())
}

/// The complexity `full_name`'s declaration gives ("" when it has none).
pub fn complexity(full_name: &str) -> &'static str {
    find(full_name).map_or("", |parsed| parsed.doc.complexity)
}

/// The fields of `full_name`'s docs after complexity (doc_flags, deprecated_since,
/// replaced_by, history, arguments), in Redis's order; none without a declaration.
pub fn doc_fields(full_name: &str) -> Vec<(Reply, Reply)> {
    let Some(parsed) = find(full_name) else {
        return Vec::new();
    };
    let doc = parsed.doc;
    let field = Reply::bulk_static;
    let mut fields = Vec::new();
    if !doc.doc_flags.is_empty() {
        let flags = doc.doc_flags.iter().map(|f| Reply::status(f)).collect();
        fields.push((field("doc_flags"), Reply::Set(flags)));
    }
    if !doc.deprecated_since.is_empty() {
        fields.push((field("deprecated_since"), field(doc.deprecated_since)));
    }
    if !doc.replaced_by.is_empty() {
        fields.push((field("replaced_by"), field(doc.replaced_by)));
    }
    if !doc.history.is_empty() {
        let entries = doc
            .history
            .iter()
            .map(|&(version, text)| Reply::Array(vec![field(version), field(text)]))
            .collect();
        fields.push((field("history"), Reply::Set(entries)));
    }
    if !parsed.args.is_empty() {
        fields.push((field("arguments"), args_reply(&parsed.args)));
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declaration_parses_once() {
        let mut seen = std::collections::HashSet::new();
        for doc in all_docs() {
            assert!(seen.insert(doc.name), "{} is declared twice", doc.name);
            if let Err(e) = parse(doc.args) {
                panic!("{}: {e}", doc.name);
            }
        }
    }

    #[test]
    fn the_syntax() {
        let args = parse("key:key ?condition:oneof@2.6.12(NX XX) ?ALPHA:sorting:tok *+GET:pattern:pat#1 'ip:port':str!2.8.12 TYPE:t:str=':x'%'s'").unwrap();
        assert_eq!(args.len(), 6);
        assert_eq!(
            (args[0].kind, args[0].key_spec_index),
            (ArgType::Key, Some(0))
        );
        let cond = &args[1];
        assert_eq!(
            (&*cond.name, cond.kind, cond.optional, cond.since),
            ("condition", ArgType::OneOf, true, Some("2.6.12"))
        );
        assert_eq!(
            (&*cond.args[0].name, cond.args[0].token, cond.args[0].kind),
            ("nx", Some("NX"), ArgType::PureToken)
        );
        assert_eq!((&*args[2].name, args[2].token), ("sorting", Some("ALPHA")));
        let get = &args[3];
        assert!(get.multiple && get.multiple_token && !get.optional);
        assert_eq!(
            (get.kind, get.key_spec_index, get.token),
            (ArgType::Pattern, Some(1), Some("GET"))
        );
        assert_eq!(
            (&*args[4].name, args[4].kind, args[4].deprecated_since),
            ("ip:port", ArgType::String, Some("2.8.12"))
        );
        assert_eq!(
            (args[5].display_text, args[5].summary),
            (Some(":x"), Some("s"))
        );
        for bad in [
            "x:nope",
            "a:oneof",
            "a:str(b)",
            "a:oneof(b",
            "b)",
            "'x'",
            "a:b:c:d",
            "x#y",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// A declaration beyond Redis 7.0 (from redis.io's XACKDEL page) and a 7.2 history entry,
    /// as COMMAND DOCS lays them out.
    #[test]
    fn declarations_render_in_redis_order() {
        let xackdel = &find("xackdel").unwrap().args;
        let names: Vec<&str> = xackdel.iter().map(|a| &*a.name).collect();
        assert_eq!(names, ["key", "group", "condition", "ids"]);
        let ids = &xackdel[3];
        assert_eq!(
            (ids.kind, ids.token, ids.optional),
            (ArgType::Block, Some("IDS"), false)
        );
        assert_eq!((&*ids.args[1].name, ids.args[1].multiple), ("id", true));
        let Reply::Map(fields) = arg_reply(ids) else {
            panic!("not a map")
        };
        let keys: Vec<Reply> = fields.into_iter().map(|(k, _)| k).collect();
        let want: Vec<Reply> = ["name", "type", "token", "arguments"]
            .into_iter()
            .map(Reply::bulk_static)
            .collect();
        assert_eq!(keys, want);
        let keys: Vec<Reply> = doc_fields("zrank").into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                Reply::bulk_static("history"),
                Reply::bulk_static("arguments")
            ]
        );
        assert!(doc_fields("nosuchcommand").is_empty());
    }

    /// The commands (and subcommands) of the table without an argument declaration: COMMAND
    /// DOCS answers them without `arguments`. Printed for whoever adds a command; the list of
    /// those expected to lack one is `EXPECTED_UNDECLARED` (empty: every command has one).
    #[test]
    fn undeclared_commands() {
        const EXPECTED_UNDECLARED: &[&str] = &[];
        let mut missing = Vec::new();
        for spec in crate::commands::all() {
            let subs = spec
                .subcommands
                .iter()
                .map(|s| format!("{}|{}", spec.name, s.name));
            for name in std::iter::once(spec.name.to_string()).chain(subs) {
                if find(&name).is_none() {
                    missing.push(name);
                }
            }
        }
        println!("commands without an argument declaration: {missing:?}");
        assert!(
            missing
                .iter()
                .all(|m| EXPECTED_UNDECLARED.contains(&m.as_str())),
            "declare the arguments of {missing:?} in src/commands/arg_docs/<group>.rs"
        );
    }
}
