//! Which tables and columns a pipeline reads after validation, worked out once from the parsed
//! SQL of its transforms, so that what nothing reads is let go before the big steps run.
//!
//! Every word of a statement counts as a name it reads (identifiers quoted or not, each part of
//! `a.b`, keywords too): string literals and comments are no words, and a name that only
//! appears there is not read. Words are taken from sqlparser's tokens of a statement that
//! parses, not from the syntax tree, because the tree keeps names in places an expression walk
//! does not reach (`USING (sku)`, `EXCLUDE (note)`, named windows); the words are a superset of
//! what the SQL reads, and keeping a column too many only costs memory, while dropping one the
//! SQL reads fails the run.

use std::collections::HashSet;

use polars::prelude::*;
use sqlparser::dialect::GenericDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserOptions};
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::config::Pipeline;

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
    /// The names a pipeline's transforms read (once per pipeline, before any table is loaded).
    pub fn of(p: &Pipeline) -> Needs {
        Needs::of_sql(p.transforms.iter().map(|t| t.sql.as_str()))
    }

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

/// Whether a table is written by an output or (when `by_sql`) named by a transform's SQL;
/// `breaks` is always kept (reports read it).
pub fn is_used(p: &Pipeline, needs: &Needs, name: &str, by_sql: bool) -> bool {
    name == "breaks"
        || p.breaks.as_ref().is_some_and(|b| b.table == name)
        || p.outputs.iter().any(|o| o.table == name)
        || (by_sql && needs.names(name))
}

/// `df` (the `input` or `erp` table) without the columns nothing after validation reads: a
/// column is kept when reconcile uses it on this side (key, compared or carried), the
/// settlement steps read it, or a transform's SQL names it; every column is kept when the table
/// is an output itself or a transform selects `*`. Unread columns (free text, timestamps) are a
/// large share of a wide file's memory.
pub fn prune(p: &Pipeline, needs: &Needs, table: &str, df: DataFrame) -> PolarsResult<DataFrame> {
    let mut side_columns: Vec<&String> = Vec::new();
    if let Some(r) = &p.reconcile {
        if table == "input" {
            side_columns.extend(r.keys.iter().map(|k| &k.0));
            side_columns.extend(r.compare.iter().map(|c| &c.partner));
            side_columns.extend(&r.carry_partner);
        } else {
            side_columns.extend(r.keys.iter().map(|k| &k.1));
            side_columns.extend(r.compare.iter().map(|c| &c.erp));
            side_columns.extend(&r.carry_erp);
        }
    }
    let settlement = super::settlement::needed_columns(p, table);
    side_columns.extend(&settlement);
    if p.outputs.iter().any(|o| o.table == table)
        || p.breaks.as_ref().is_some_and(|b| b.table == table)
        || needs.star()
        || ((p.orders.is_some() || p.shipments.is_some() || p.invoices.is_some())
            && table == "input")
    {
        return Ok(df);
    }
    let keep: Vec<PlSmallStr> = df
        .get_column_names()
        .into_iter()
        .filter(|c| side_columns.iter().any(|s| s.as_str() == c.as_str()) || needs.names(c))
        .cloned()
        .collect();
    if keep.len() == df.width() {
        return Ok(df);
    }
    df.select(keep)
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

    #[test]
    fn prune_keeps_the_columns_the_sql_names_whatever_their_characters() {
        let p = crate::pipeline::tests::pipeline(
            "",
            &[(
                "fees",
                r#"SELECT "sku#", "Fee (USD)" FROM input WHERE "sku#" <> 'memo'"#,
            )],
            &[("fees", "fees.csv")],
        );
        let df = df!(
            "sku#" => ["A1"],
            "Fee (USD)" => [1.5],
            "Fee" => [9.0],
            "memo" => ["free text"],
        )
        .unwrap();
        let kept = prune(&p, &Needs::of(&p), "input", df).unwrap();
        let names: Vec<&str> = kept.get_column_names().iter().map(|c| c.as_str()).collect();
        assert_eq!(names, ["sku#", "Fee (USD)"]);
    }
}
