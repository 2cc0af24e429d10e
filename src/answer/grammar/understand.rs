//! The understand answer: a JSON array of one to `max` of the repository's own paths.

use super::Rules;

/// A grammar for `["path", …]` where every path is one of `files`; `[]` alone when there are none.
pub fn understand(files: &[String], max: usize) -> String {
    if files.is_empty() || max == 0 {
        return "root ::= \"[]\"\n".to_string();
    }
    let mut rules = Rules::new("path");
    let quoted: Vec<String> = files
        .iter()
        .map(|f| serde_json::Value::String(f.clone()).to_string())
        .collect();
    let path = rules.one_of(&quoted);
    format!(
        "root ::= \"[\" ws {path} ( \",\" ws {path} ){{0,{more}}} ws \"]\"\nws ::= [ \\n]?\n{rules}",
        more = max - 1,
        rules = rules.text()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::grammar_check::Grammar;

    #[test]
    fn only_the_repository_paths_and_at_most_max() {
        let files = vec![
            "pkg/a.py".to_string(),
            "pkg/ab.py".to_string(),
            "README.md".to_string(),
        ];
        let g = Grammar::parse(&understand(&files, 2)).unwrap();
        assert!(g.accepts(r#"["pkg/a.py"]"#));
        assert!(g.accepts(r#"["pkg/ab.py", "README.md"]"#));
        assert!(g.accepts("[\n\"README.md\",\n\"pkg/a.py\"\n]"));
        assert!(!g.accepts(r#"["pkg/a.py", "pkg/ab.py", "README.md"]"#));
        assert!(!g.accepts(r#"["**#**#"]"#));
        assert!(!g.accepts(r#"["pkg/"]"#));
        assert!(!g.accepts("[]"));
    }

    #[test]
    fn scales_to_thousands_of_files_with_few_rules() {
        let files: Vec<String> = (0..3000)
            .map(|i| format!("src/module_{}/file_{i}.py", i % 40))
            .collect();
        let text = understand(&files, 5);
        let g = Grammar::parse(&text).unwrap();
        assert!(g.accepts(r#"["src/module_7/file_2447.py"]"#));
        assert!(!g.accepts(r#"["src/module_7/file_2448.py"]"#));
        // One rule per branching point of the prefix tree, far fewer than one per character.
        assert!(
            text.lines().count() < 3000,
            "{} rules",
            text.lines().count()
        );
    }
}
