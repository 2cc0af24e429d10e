//! The verify answer: one fenced Python code block, bounded in lines and line length.

/// Most lines of the script.
const MAX_LINES: usize = 200;
/// Most characters of one line.
const MAX_LINE: usize = 300;

/// A grammar for exactly one ```python block (no line of it starts with a backtick).
pub fn python_block() -> String {
    format!(
        "root ::= \"```python\\n\" line{{1,{MAX_LINES}}} \"```\"\n\
         line ::= ( [^`\\n] [^\\n]{{0,{}}} )? \"\\n\"\n",
        MAX_LINE - 1
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::code_block;
    use crate::model::grammar_check::Grammar;

    #[test]
    fn one_python_block() {
        let g = Grammar::parse(&python_block()).unwrap();
        let ok = "```python\nimport sys\n\nprint('Issue reproduced')\n```";
        assert!(g.accepts(ok));
        assert_eq!(
            code_block(ok, "python"),
            Some("import sys\n\nprint('Issue reproduced')\n")
        );
        assert!(!g.accepts("print(1)"));
        assert!(!g.accepts("```python\nprint(1)\n```\nmore text"));
        assert!(!g.accepts("```python\n```"));
    }
}
