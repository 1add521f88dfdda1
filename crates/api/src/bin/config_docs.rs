//! `config-docs`: README's configuration table, rendered from `phonereg-api --help`.
//!
//! The doc comments on the fields of `Config` are the one description of the settings:
//! clap prints them for `--help`, and this prints them as the Markdown table README
//! keeps between `<!-- config-docs:begin -->` and `<!-- config-docs:end -->`.
//!
//! - `config-docs` prints the table;
//! - `config-docs --write README.md` replaces the table between the markers;
//! - `config-docs --check README.md` exits 1 when the table there differs.
//!
//! A default clap cannot show (computed at start-up) is written at the end of the doc
//! comment as `[default: …]`, the way clap prints its own.

use std::process::ExitCode;

use clap::CommandFactory as _;
use phonereg_api::config::Config;

const BEGIN: &str = "<!-- config-docs:begin -->";
const END: &str = "<!-- config-docs:end -->";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let table = match render() {
        Ok(table) => table,
        Err(e) => {
            eprintln!("config-docs: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => {
            print!("{table}");
            Ok(())
        }
        ["--write", path] => std::fs::read_to_string(path)
            .map_err(|e| format!("{path}: {e}"))
            .and_then(|text| splice(&text, &table))
            .and_then(|text| std::fs::write(path, text).map_err(|e| format!("{path}: {e}"))),
        ["--check", path] => std::fs::read_to_string(path)
            .map_err(|e| format!("{path}: {e}"))
            .and_then(|text| {
                if splice(&text, &table)? == text {
                    Ok(())
                } else {
                    Err(format!(
                        "{path}: the configuration table differs from `phonereg-api --help`; \
                         run `cargo run -p phonereg-api --bin config-docs -- --write {path}`"
                    ))
                }
            }),
        _ => Err("usage: config-docs [--write FILE | --check FILE]".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("config-docs: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One row per environment variable, in the order of `Config`'s fields.
fn render() -> Result<String, String> {
    let mut out = String::from("| variable | default | meaning |\n|---|---|---|\n");
    for arg in Config::command().get_arguments() {
        let Some(env) = arg.get_env() else { continue };
        let env = env.to_string_lossy();
        let help = arg
            .get_help()
            .map(ToString::to_string)
            .filter(|h| !h.trim().is_empty())
            .ok_or_else(|| format!("{env} has no doc comment on its field of Config"))?;
        let (meaning, stated) = match help.trim_end().strip_suffix(']') {
            Some(rest) => match rest.rsplit_once("[default: ") {
                Some((meaning, default)) => (meaning.trim_end().to_owned(), Some(default)),
                None => (help.clone(), None),
            },
            None => (help.clone(), None),
        };
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        let default = match (&defaults[..], stated) {
            ([], Some(stated)) => stated.to_owned(),
            ([], None) => "none".to_owned(),
            ([only], None) if only.is_empty() => "empty".to_owned(),
            (values, None) => values
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", "),
            (_, Some(_)) => {
                return Err(format!(
                    "{env} has a clap default and a `[default: …]` in its doc comment"
                ));
            }
        };
        out.push_str(&format!(
            "| `{env}` | {} | {} |\n",
            cell(&default),
            cell(&meaning)
        ));
    }
    Ok(out)
}

/// A Markdown table cell: a `|` would end it.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// `text` with the table between the markers replaced by `table`.
fn splice(text: &str, table: &str) -> Result<String, String> {
    let begin = text
        .find(BEGIN)
        .ok_or_else(|| format!("no {BEGIN} marker"))?
        + BEGIN.len();
    let end = text[begin..]
        .find(END)
        .ok_or_else(|| format!("no {END} marker after {BEGIN}"))?
        + begin;
    Ok(format!("{}\n{table}{}", &text[..begin], &text[end..]))
}
