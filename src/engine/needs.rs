//! What a pipeline's SQL transforms read: every name of their statements, from sqlparser's
//! tokens (polars' own sqlparser version), worked out once when the configuration is compiled.
//!
//! Every word of a statement counts as a name it reads (identifiers quoted or not, each part of
//! `a.b`, keywords too): string literals and comments are no words, and a name that only
//! appears there is not read. Words are taken from the tokens of a statement that parses, not
//! from the syntax tree, because the tree keeps names in places an expression walk does not
//! reach (`USING (sku)`, `EXCLUDE (note)`, named windows); the words are a superset of what the
//! SQL reads, and keeping a column too many only costs memory, while dropping one the SQL reads
//! fails the run.

use std::collections::HashSet;

use sqlparser::dialect::GenericDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserOptions};
use sqlparser::tokenizer::{Token, Tokenizer};

/// What a pipeline's transforms read, from their parsed SQL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Every name the SQL uses, lowercased (polars matches names without regard to case when
    /// it can, so a name is kept whatever its case); `None` when a statement could not be
    /// read: then every name counts as read.
    names: Option<HashSet<String>>,
    /// A transform selects `*` (or `t.*`): every column of every table it reads is needed.
    star: bool,
}

impl Needs {
    /// The names read by these SQL statements.
    pub fn of_sql<'a>(statements: impl IntoIterator<Item = &'a str>) -> Needs {
        let mut needs = Needs {
            names: Some(HashSet::new()),
            star: false,
        };
        for sql in statements {
            match words(sql) {
                Some((names, star)) => {
                    needs.star |= star;
                    if let Some(all) = &mut needs.names {
                        all.extend(names);
                    }
                }
                // When in doubt, every name is read.
                None => needs.names = None,
            }
        }
        needs
    }

    /// Whether the SQL names `name` (a table or a column) outside literals and comments.
    pub fn names(&self, name: &str) -> bool {
        self.names
            .as_ref()
            .is_none_or(|n| n.contains(&name.to_lowercase()))
    }

    /// Whether some transform selects every column (`SELECT *`, `t.*`).
    pub fn star(&self) -> bool {
        self.star
    }
}

/// The words of one statement (lowercased) and whether it selects `*`; `None` when it does not
/// tokenize or parse as polars would parse it.
fn words(sql: &str) -> Option<(HashSet<String>, bool)> {
    let dialect = GenericDialect {};
    Parser::new(&dialect)
        .with_options(ParserOptions {
            trailing_commas: true,
            ..Default::default()
        })
        .try_with_sql(sql)
        .and_then(|mut parser| parser.parse_statements())
        .ok()?;
    let tokens = Tokenizer::new(&dialect, sql).tokenize().ok()?;
    let mut names = HashSet::new();
    let mut star = false;
    let mut previous: Option<&Token> = None;
    // The compound name `a.b.c` read so far: its parts are names, and so is the whole (a
    // column may be called `a.b`).
    let mut compound = String::new();
    for token in &tokens {
        if !matches!(token, Token::Word(_) | Token::Period | Token::Whitespace(_)) {
            compound.clear();
        }
        match token {
            Token::Whitespace(_) => continue,
            Token::Word(w) => {
                let word = w.value.to_lowercase();
                if !matches!(previous, Some(Token::Period)) {
                    compound.clear();
                } else if !compound.is_empty() {
                    compound.push('.');
                    compound.push_str(&word);
                    names.insert(compound.clone());
                }
                if compound.is_empty() {
                    compound = word.clone();
                }
                names.insert(word);
            }
            // `*` as a select item: after SELECT, DISTINCT, a comma or `t.` (not `count(*)`
            // nor a product).
            Token::Mul => {
                star |= match previous {
                    Some(Token::Word(w)) => {
                        w.quote_style.is_none()
                            && matches!(w.keyword, Keyword::SELECT | Keyword::DISTINCT)
                    }
                    Some(Token::Comma | Token::Period) => true,
                    _ => false,
                }
            }
            _ => {}
        }
        previous = Some(token);
    }
    Some((names, star))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_names_with_any_character_are_read() {
        let n = Needs::of_sql([
            r#"SELECT "sku#", "Fee (USD)" AS usd_fee, i.qty FROM input AS i -- note_text
               WHERE i.status <> 'erp' AND "Net £" > 0"#,
        ]);
        for name in [
            "sku#",
            "Fee (USD)",
            "fee (usd)",
            "qty",
            "i.qty",
            "input",
            "status",
            "Net £",
        ] {
            assert!(n.names(name), "{name}");
        }
        // Literals and comments name nothing; `Fee (USD)` is one name, not `Fee` and `USD`.
        for name in ["erp", "note_text", "Fee", "USD", "sku"] {
            assert!(!n.names(name), "{name}");
        }
        assert!(!n.star());
    }

    #[test]
    fn a_star_select_item_keeps_everything_and_count_star_does_not() {
        for (sql, star) in [
            ("SELECT * FROM input", true),
            ("SELECT DISTINCT * FROM input", true),
            ("SELECT a, * FROM input", true),
            ("SELECT i.* FROM input i", true),
            ("SELECT x FROM (SELECT * FROM input)", true),
            ("SELECT count(*) AS n FROM input", false),
            ("SELECT a * 2 AS b FROM input", false),
        ] {
            assert_eq!(Needs::of_sql([sql]).star(), star, "{sql}");
        }
    }

    #[test]
    fn sql_that_does_not_parse_reads_every_name() {
        let n = Needs::of_sql(["SELECT a FROM input", "SELEC broken ("]);
        assert!(n.names("anything"));
    }
}
