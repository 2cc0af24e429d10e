//! The verify answer: one fenced Python code block, bounded in lines and line length.

/// Most lines of the script.
const MAX_LINES: usize = 200;
/// Most characters of one line.
const MAX_LINE: usize = 300;

/// A grammar for exactly one ```python block whose first line is code (not blank, not indented,
/// not a carriage return: Gemma 3 270M looped on `\r\n` there until the loop guard cut it)
/// and whose lines hold no backtick, so no line can close the fence early and the block is never
/// blank: [`crate::answer::code_block`] always finds its body.
pub fn python_block() -> String {
    format!(
        "root ::= \"```python\\n\" first line{{0,{}}} \"```\"\n\
         first ::= [^`\\n\\r \\t] [^`\\n]{{0,{}}} \"\\n\"\n\
         line ::= [^`\\n]{{0,{MAX_LINE}}} \"\\n\"\n",
        MAX_LINES - 1,
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
        // A blank block, or a line that would close the fence early, cannot be written.
        assert!(!g.accepts("```python\n\n\n```"));
        assert!(!g.accepts("```python\n  \nprint(1)\n```"));
        assert!(!g.accepts("```python\n\r\nprint(1)\n```"));
        assert!(!g.accepts("```python\nx = 1\n  ```\n```"));
        assert!(!g.accepts("```python\ns = \"```\"\n```"));
    }
}
