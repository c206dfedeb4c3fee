//! Search: the query language, the words a body is indexed by, and where a hit matched.
//!
//! A query is words, `"quoted phrases"` and filters — `from:alice`, `in:general` (or
//! `in:#general`), `has:file` — in any order. Every word must occur in a message; one of three
//! letters or more also as a word's beginning (`deploy` finds "deployment"; `ok` finds only
//! "ok": a one- or two-letter beginning matches half the language and says little). A
//! phrase's words must occur in a row. Case does not
//! matter; accents do. The server and the client's offline cache index and highlight with the
//! same rules, so a hit looks the same from either.

use serde::{Deserialize, Serialize};

/// Longest query in bytes of UTF-8.
pub const MAX_QUERY_BYTES: usize = 256;
/// Shortest word that also matches as the beginning of longer ones.
pub const MIN_PREFIX_CHARS: usize = 3;
/// Most words (phrase words included) in one query.
pub const MAX_QUERY_WORDS: usize = 16;
/// Hits per page unless the request says otherwise.
pub const SEARCH_DEFAULT: u32 = 20;
/// Largest `limit` of a `search` request.
pub const SEARCH_MAX: u32 = 50;

/// One hit of a search: a message in its current state, and where it matched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SearchHit {
    pub room: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seq: u64,
    pub author: String,
    pub body: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub ts: u64,
    /// The matched words of `body` as `[start, end)` ranges of characters (Unicode scalar
    /// values, not bytes), ascending and not overlapping.
    #[cfg_attr(feature = "ts", ts(type = "Array<[number, number]>"))]
    pub highlights: Vec<[u32; 2]>,
}

/// What is looked for in a query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Words that must each be (or, from [`MIN_PREFIX_CHARS`] on, begin) a word of the
    /// message, lower case.
    pub words: Vec<String>,
    /// Runs of words that must occur in this order, lower case.
    pub phrases: Vec<Vec<String>>,
    /// `from:` — the author, lower case.
    pub from: Option<String>,
    /// `in:` — the room.
    pub room: Option<String>,
    /// `has:file` — only messages with attachments.
    pub has_file: bool,
}

/// Why a query cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the query is empty: give a word, a phrase or a filter")]
    Empty,
    #[error("the query is longer than {MAX_QUERY_BYTES} bytes")]
    TooLong,
    #[error("the query has more than {MAX_QUERY_WORDS} words")]
    TooManyWords,
    #[error("unknown filter `has:{0}` (only has:file exists)")]
    UnknownHas(String),
}

impl Query {
    /// Parses what a user typed.
    pub fn parse(text: &str) -> Result<Self, QueryError> {
        if text.len() > MAX_QUERY_BYTES {
            return Err(QueryError::TooLong);
        }
        let mut q = Self::default();
        let mut rest = text;
        while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
            rest = &rest[start..];
            if let Some(quoted) = rest.strip_prefix('"') {
                let end = quoted.find('"').unwrap_or(quoted.len());
                let phrase: Vec<String> = words(&quoted[..end]).map(|w| w.word).collect();
                match phrase.len() {
                    0 => {}
                    1 => q.words.extend(phrase),
                    _ => q.phrases.push(phrase),
                }
                rest = quoted.get(end + 1..).unwrap_or("");
                continue;
            }
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let token = &rest[..end];
            rest = &rest[end..];
            if let Some(who) = token.strip_prefix("from:").filter(|v| !v.is_empty()) {
                q.from = Some(who.trim_start_matches('@').to_lowercase());
            } else if let Some(room) = token.strip_prefix("in:").filter(|v| !v.is_empty()) {
                q.room = Some(room.trim_start_matches('#').to_lowercase());
            } else if let Some(what) = token.strip_prefix("has:").filter(|v| !v.is_empty()) {
                match what.to_lowercase().as_str() {
                    "file" | "files" | "attachment" => q.has_file = true,
                    _ => return Err(QueryError::UnknownHas(what.chars().take(20).collect())),
                }
            } else {
                q.words.extend(words(token).map(|w| w.word));
            }
        }
        let mut seen = std::collections::HashSet::new();
        q.words.retain(|w| seen.insert(w.clone()));
        let count = q.words.len() + q.phrases.iter().map(Vec::len).sum::<usize>();
        if count > MAX_QUERY_WORDS {
            return Err(QueryError::TooManyWords);
        }
        if count == 0 && q.from.is_none() && q.room.is_none() && !q.has_file {
            return Err(QueryError::Empty);
        }
        Ok(q)
    }

    /// Whether there is text to match (not only filters).
    pub fn has_text(&self) -> bool {
        !self.words.is_empty() || !self.phrases.is_empty()
    }

    /// The query in SQLite FTS5's syntax: each word (as a prefix when long enough), each phrase
    /// quoted. Words are letters and digits only, so nothing in them is FTS syntax.
    pub fn fts5(&self) -> String {
        let words = self.words.iter().map(|w| match is_prefix(w) {
            true => format!("\"{w}\"*"),
            false => format!("\"{w}\""),
        });
        let phrases = self.phrases.iter().map(|p| format!("\"{}\"", p.join(" ")));
        words.chain(phrases).collect::<Vec<_>>().join(" ")
    }

    /// The query as a PostgreSQL `tsquery` (for `to_tsquery('simple', …)`): words as prefixes,
    /// phrases with `<->`, all of them required.
    pub fn tsquery(&self) -> String {
        let words = self.words.iter().map(|w| match is_prefix(w) {
            true => format!("'{w}':*"),
            false => format!("'{w}'"),
        });
        let phrases = self.phrases.iter().map(|p| {
            let inner: Vec<String> = p.iter().map(|w| format!("'{w}'")).collect();
            format!("({})", inner.join(" <-> "))
        });
        words.chain(phrases).collect::<Vec<_>>().join(" & ")
    }

    /// Whether `body` matches the query's text (filters aside), by the rules above.
    pub fn matches(&self, body: &str) -> bool {
        let found: Vec<String> = words(body).map(|w| w.word).collect();
        self.words
            .iter()
            .all(|q| found.iter().any(|w| word_matches(q, w)))
            && self.phrases.iter().all(|p| {
                found
                    .windows(p.len())
                    .any(|run| run.iter().zip(p).all(|(a, b)| a == b))
            })
    }

    /// Where `body` matched: the words that a query word begins, or that are a phrase's.
    pub fn highlights(&self, body: &str) -> Vec<[u32; 2]> {
        let found: Vec<Word> = words(body).collect();
        let mut marked = vec![false; found.len()];
        for (i, w) in found.iter().enumerate() {
            if self.words.iter().any(|q| word_matches(q, &w.word)) {
                marked[i] = true;
            }
        }
        for p in &self.phrases {
            for start in 0..found.len().saturating_sub(p.len() - 1) {
                if found[start..start + p.len()]
                    .iter()
                    .zip(p)
                    .all(|(a, b)| &a.word == b)
                {
                    marked[start..start + p.len()].fill(true);
                }
            }
        }
        found
            .iter()
            .zip(marked)
            .filter(|(_, m)| *m)
            .map(|(w, _)| [w.start, w.end])
            .collect()
    }
}

/// Whether a query word also matches longer words it begins.
fn is_prefix(word: &str) -> bool {
    word.chars().count() >= MIN_PREFIX_CHARS
}

/// Whether query word `q` matches the text's word `w`.
fn word_matches(q: &str, w: &str) -> bool {
    if is_prefix(q) {
        w.starts_with(q)
    } else {
        w == q
    }
}

/// A word of a text: a run of letters and digits, lower case, with its place in characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub word: String,
    pub start: u32,
    pub end: u32,
}

/// The words of `text`, as the search index sees them (SQLite's `unicode61` tokenizer splits
/// the same way: anything that is not a letter or a digit separates words).
pub fn words(text: &str) -> impl Iterator<Item = Word> + '_ {
    let mut chars = text.chars().enumerate().peekable();
    std::iter::from_fn(move || {
        while chars.next_if(|(_, c)| !c.is_alphanumeric()).is_some() {}
        let (start, first) = chars.next()?;
        let mut word: String = first.to_lowercase().collect();
        let mut end = start + 1;
        while let Some((i, c)) = chars.next_if(|(_, c)| c.is_alphanumeric()) {
            word.extend(c.to_lowercase());
            end = i + 1;
        }
        Some(Word {
            word,
            start: start as u32,
            end: end as u32,
        })
    })
}

/// The words of `text` joined by single spaces: what PostgreSQL indexes, so its parser (which
/// would keep `a@b.com` or `v1.2` as one token) splits exactly as [`words`] does.
pub fn index_text(text: &str) -> String {
    words(text).map(|w| w.word).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Query {
        Query::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn words_filters_and_phrases() {
        let query = q(r#"  Deploy from:@Alice "ship IT now" in:#General has:file"#);
        assert_eq!(query.words, ["deploy"]);
        assert_eq!(query.phrases, [vec!["ship", "it", "now"]]);
        assert_eq!(query.from.as_deref(), Some("alice"));
        assert_eq!(query.room.as_deref(), Some("general"));
        assert!(query.has_file);
        assert_eq!(query.fts5(), r#""deploy"* "ship it now""#);
        assert_eq!(query.tsquery(), "'deploy':* & ('ship' <-> 'it' <-> 'now')");
    }

    #[test]
    fn punctuation_never_reaches_the_index_syntax() {
        let query = q(r#"it's "a" NEAR(x) col:y a@b.com -x *"#);
        assert_eq!(
            query.words,
            ["it", "s", "a", "near", "x", "col", "y", "b", "com"]
        );
        assert!(
            query
                .fts5()
                .chars()
                .all(|c| c.is_alphanumeric() || " \"*".contains(c))
        );
        assert!(
            query
                .tsquery()
                .chars()
                .all(|c| c.is_alphanumeric() || " '&:*".contains(c))
        );
    }

    #[test]
    fn bad_queries_say_why() {
        assert_eq!(Query::parse("  "), Err(QueryError::Empty));
        assert_eq!(Query::parse("!!! \"\""), Err(QueryError::Empty));
        assert_eq!(Query::parse(&"x".repeat(300)), Err(QueryError::TooLong));
        assert_eq!(
            Query::parse(&"a ".repeat(17)),
            Ok(q("a")),
            "repeats count once"
        );
        let many: String = (0..17).map(|i| format!("w{i} ")).collect();
        assert_eq!(Query::parse(&many), Err(QueryError::TooManyWords));
        assert!(matches!(
            Query::parse("has:link"),
            Err(QueryError::UnknownHas(_))
        ));
        assert!(!q("from:bob").has_text());
    }

    #[test]
    fn a_hit_is_highlighted_where_it_matched_in_characters() {
        let query = q(r#"deplo "on friday""#);
        let body = "Ünïcode first: we DEPLOYED it on Friday, not on monday";
        assert!(query.matches(body));
        let marks: Vec<&str> = query
            .highlights(body)
            .iter()
            .map(|[s, e]| &body[byte(body, *s)..byte(body, *e)])
            .collect();
        assert_eq!(marks, ["DEPLOYED", "on", "Friday"]);
        assert!(!query.matches("deploy on monday"), "the phrase is missing");
        assert!(
            !q("ploy").matches("deploy"),
            "a word's beginning, not its middle"
        );
    }

    fn byte(s: &str, chars: u32) -> usize {
        s.char_indices()
            .nth(chars as usize)
            .map_or(s.len(), |(i, _)| i)
    }

    #[test]
    fn postgres_indexes_the_same_words() {
        assert_eq!(
            index_text("Mail a@b.com, v1.2 — done!"),
            "mail a b com v1 2 done"
        );
    }
}
