//! The issue's own example as a reproduction script: many issues hold a short Python example and
//! name the exception it raises (a traceback's last line, "raises a `TypeError`"). Run as it
//! stands, such an example reproduces the issue when it raises one of those exceptions (or one
//! raised while handling them: seaborn wraps the issue's `TypeError` in a `PlotSpecError`) and shows
//! it resolved when it runs through — a reproduction no model had to write, offered to the verify
//! stage beside the model's scripts (and kept only if it reproduces, like theirs).
//!
//! The example is the issue's first fenced block that is Python (tagged `python`, `py`, `pycon`,
//! `ipython` or untagged), is not a traceback or output, and parses. A console transcript keeps
//! its `>>>` and `...` lines only. The exceptions are the names the issue gives outside that
//! block, by Python's convention (`…Error`, `…Exception`, `…Warning`): a named built-in warning
//! is turned into an error while the example runs. An example that uses a common alias it never
//! defines (`np`, `pd`, `plt`, `sns`, `so`…) gets the import first. Without an example or a
//! named exception there is no script: nothing would tell reproduced from resolved.
//!
//! An example is often written where values are shown: a notebook shows a cell's last
//! expression (its `repr` and rich forms such as `_repr_png_`), a console every expression
//! statement. Run as a script, nothing is shown, and an issue raised while showing goes unseen:
//! seaborn-3010's `so.Plot(…).add(…)` fails only when the notebook draws it. So the script shows
//! values as the example's setting would: a console transcript each expression statement's
//! `repr`, any other example its last expression, with the rich forms a notebook asks for.

use std::collections::BTreeSet;

use super::fence::closed_blocks;

/// An example found in an issue, and the exceptions the issue says it raises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueExample {
    pub source: String,
    pub expected: Vec<String>,
    /// A console transcript (`>>>`), whose expression statements a console shows one by one.
    pub console: bool,
}

/// Aliases examples use without importing them, and their modules.
const ALIASES: &[(&str, &str)] = &[
    ("np", "numpy"),
    ("pd", "pandas"),
    ("plt", "matplotlib.pyplot"),
    ("mpl", "matplotlib"),
    ("sns", "seaborn"),
    ("so", "seaborn.objects"),
    ("xr", "xarray"),
];

/// The issue's example, when it has one and names an exception.
pub fn find(issue: &str) -> Option<IssueExample> {
    let issue = issue.replace("\r\n", "\n");
    let (source, console) = closed_blocks(&issue)
        .into_iter()
        .filter(|(tag, _)| {
            let tag = tag.to_ascii_lowercase();
            ["", "python", "py", "python3", "pycon", "ipython"].contains(&tag.as_str())
        })
        .find_map(|(_, body)| example_of(body))?;
    let in_example = identifiers(&source);
    let expected: Vec<String> = identifiers(&issue)
        .into_iter()
        .filter(|name| is_exception_name(name) && !in_example.contains(name))
        .collect();
    (!expected.is_empty()).then(|| IssueExample {
        source: with_aliases(&source),
        expected,
        console,
    })
}

/// The script that runs `example` under the reproduction protocol.
pub fn script(example: &IssueExample) -> String {
    let expected = example
        .expected
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let source = serde_json::Value::String(example.source.clone()).to_string();
    format!(
        "# Written by ponder, not by the model: the issue's own example, run as it stands.\n\
         # The issue names {names}; the example raising one of them reproduces it.\n\
         import builtins, os, sys, traceback, warnings\n\
         os.environ.setdefault(\"MPLBACKEND\", \"Agg\")\n\
         EXPECTED = {{{expected}}}\n\
         for name in EXPECTED:\n    \
             kind = getattr(builtins, name, None)\n    \
             if isinstance(kind, type) and issubclass(kind, Warning):\n        \
                 warnings.simplefilter(\"error\", kind)\n\
         SOURCE = {source}\n\
         CONSOLE = {console}\n\
         {SHOW}\
         try:\n    \
             run(SOURCE)\n\
         except BaseException as error:\n    \
             traceback.print_exc()\n    \
             chain = [error]\n    \
             while len(chain) < 20 and (chain[-1].__cause__ or chain[-1].__context__):\n        \
                 chain.append(chain[-1].__cause__ or chain[-1].__context__)\n    \
             if any({{k.__name__ for k in type(e).__mro__}} & EXPECTED for e in chain):\n        \
                 print(\"Issue reproduced\")\n        \
                 sys.exit(1)\n    \
             print(\"Other issues\")\n    \
             sys.exit(2)\n\
         print(\"Issue resolved\")\n",
        names = example.expected.join(", "),
        console = if example.console { "True" } else { "False" },
    )
}

/// Python that runs the example (`run(SOURCE)`) showing values as its setting would: a console
/// each expression statement's `repr`; a notebook its last expression's `repr` and rich forms,
/// skipped, as IPython skips them, for classes and for objects that answer any attribute.
const SHOW: &str = r#"import ast, inspect
RICH = ("_repr_html_", "_repr_markdown_", "_repr_svg_", "_repr_png_", "_repr_jpeg_",
        "_repr_latex_", "_repr_json_", "_repr_mimebundle_")
def show(value, rich):
    if value is None:
        return
    print(repr(value)[:2000])
    if not rich or inspect.isclass(value):
        return
    if getattr(value, "_ipython_canary_method_should_not_exist_", None) is not None:
        return
    for name in RICH:
        method = getattr(value, name, None)
        if callable(method):
            method()
def run(source):
    scope = {"__name__": "__main__"}
    body = ast.parse(source, "issue_example.py").body
    steps = [[s] for s in body] if CONSOLE else [body[:-1], body[-1:]]
    for i, step in enumerate(steps):
        if len(step) == 1 and isinstance(step[0], ast.Expr) and (CONSOLE or i == 1):
            code = compile(ast.Expression(step[0].value), "issue_example.py", "eval")
            show(eval(code, scope), not CONSOLE)
        elif step:
            module = ast.Module(body=step, type_ignores=[])
            exec(compile(module, "issue_example.py", "exec"), scope)
"#;

/// The runnable code of one block, if it is an example, and whether it is a console transcript.
fn example_of(body: &str) -> Option<(String, bool)> {
    let console = body.lines().any(|l| l.starts_with(">>> "));
    let code: String = if console {
        body.lines()
            .filter_map(|l| {
                l.strip_prefix(">>> ")
                    .or_else(|| l.strip_prefix("... "))
                    .or_else(|| (l == ">>>" || l == "...").then_some(""))
            })
            .map(|l| format!("{l}\n"))
            .collect()
    } else {
        body.to_string()
    };
    let looks_like_output = code.contains("Traceback (most recent call last)")
        || code
            .lines()
            .any(|l| l.starts_with("-----") || l.starts_with("In ["));
    (!code.trim().is_empty()
        && !looks_like_output
        && code.contains('(')
        && crate::repo::python_parses(&code))
    .then_some((code, console))
}

/// Python-style identifiers of `text`, each once, in order of first appearance.
fn identifiers(text: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    crate::repo::tokens::words(text)
        .filter(|w| !w.starts_with(|c: char| c.is_ascii_digit()) && seen.insert(*w))
        .map(str::to_string)
        .collect()
}

fn is_exception_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && ["Error", "Exception", "Warning"]
            .iter()
            .any(|suffix| name.len() > suffix.len() && name.ends_with(suffix))
}

/// `source` with guarded imports of the common aliases it uses but never defines.
fn with_aliases(source: &str) -> String {
    let names = identifiers(source);
    let mut head = String::new();
    for (alias, module) in ALIASES {
        let used = names.iter().any(|n| n == alias) && source.contains(&format!("{alias}."));
        let defined = source.lines().any(|l| {
            let l = l.trim_start();
            l.contains(&format!(" as {alias}"))
                || l.starts_with(&format!("{alias} ="))
                || l.starts_with(&format!("import {alias}"))
        });
        if used && !defined {
            head.push_str(&format!(
                "try:\n    import {module} as {alias}\nexcept ImportError:\n    pass\n"
            ));
        }
    }
    head + source
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEABORN_3407: &str = "pairplot raises KeyError with MultiIndex DataFrame\r\n\
        When trying to pairplot a MultiIndex DataFrame, `pairplot` raises a `KeyError`:\r\n\r\n\
        MRE:\r\n\r\n```python\r\nimport numpy as np\r\nimport pandas as pd\r\nimport seaborn as sns\r\n\r\n\
        df = pd.DataFrame({(\"A\", \"1\"): np.random.rand(100)})\r\nsns.pairplot(df)\r\n```\r\n\r\n\
        Output:\r\n\r\n```\r\n-> 2144         grid.map_diag(histplot, **diag_kws)\r\n\
        KeyError: \"['1'] not in index\"\r\n```\r\n";

    #[test]
    fn an_example_and_the_exception_the_issue_names() {
        let example = find(SEABORN_3407).unwrap();
        assert!(example.source.starts_with("import numpy as np\n"));
        assert!(example.source.contains("sns.pairplot(df)"));
        assert_eq!(example.expected, ["KeyError"]);
        let script = script(&example);
        assert!(script.contains("EXPECTED = {\"KeyError\"}"), "{script}");
        assert!(script.contains("print(\"Issue reproduced\")"));
    }

    #[test]
    fn without_a_named_exception_or_an_example_there_is_none() {
        assert_eq!(
            find("It prints 3 instead of 4:\n```python\nprint(f(1))\n```\n"),
            None
        );
        assert_eq!(find("It raises TypeError, no example."), None);
        // A traceback block is output, not an example.
        assert_eq!(
            find("```\nTraceback (most recent call last):\n  File \"a.py\"\nTypeError: x\n```"),
            None
        );
    }

    #[test]
    fn names_inside_the_example_are_not_expected() {
        let issue =
            "ValueError is swallowed:\n```python\ntry:\n    f()\nexcept KeyError:\n    pass\n```\n";
        assert_eq!(find(issue).unwrap().expected, ["ValueError"]);
    }

    #[test]
    fn a_console_transcript_keeps_its_input_lines() {
        let issue = "```pycon\n>>> import m\n>>> m.f(\n...     1)\nTraceback (most recent call last):\nTypeError: no\n```\nIt raises TypeError.";
        let example = find(issue).unwrap();
        assert_eq!(example.source, "import m\nm.f(\n    1)\n");
    }

    #[test]
    fn common_aliases_are_imported_when_the_example_forgets() {
        let issue =
            "```python\nso.Plot([1, None], [1, 2]).plot()\n```\nLinAlgError: SVD did not converge";
        let example = find(issue).unwrap();
        assert!(
            example
                .source
                .starts_with("try:\n    import seaborn.objects as so\n")
        );
        assert_eq!(example.expected, ["LinAlgError"]);
        let kept =
            find("```python\nimport numpy as np\nnp.zeros(1)\n```\nRaises TypeError").unwrap();
        assert_eq!(kept.source, "import numpy as np\nnp.zeros(1)\n");
    }

    /// The script of `issue`'s example run by python3: its exit status and trimmed stdout;
    /// `None` without python3.
    fn run(issue: &str) -> Option<(Option<i32>, String)> {
        let script = script(&find(issue).unwrap());
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg(&script)
            .output();
        out.ok().map(|o| {
            (
                o.status.code(),
                String::from_utf8_lossy(&o.stdout).trim().to_string(),
            )
        })
    }

    /// The script really runs under the protocol (when python3 is there).
    #[test]
    fn the_script_reports_by_the_protocol() {
        let Some(raised) = run("```python\nabs(None)\n```\nTypeError: unsupported") else {
            return; // no python3
        };
        assert_eq!(raised, (Some(1), "Issue reproduced".to_string()));
        let fine = run("```python\nprint(len([1]))\n```\nIt raised TypeError once").unwrap();
        assert_eq!(fine, (Some(0), "1\nIssue resolved".to_string()));
        let other = run("```python\n{}.pop('k')\n```\nExpected TypeError").unwrap();
        assert_eq!(other, (Some(2), "Other issues".to_string()));
        let warned =
            run("```python\nimport warnings\nwarnings.warn('old')\n```\nA UserWarning is shown")
                .unwrap();
        assert_eq!(warned, (Some(1), "Issue reproduced".to_string()));
        // The named exception wrapped in another (seaborn-3190's PlotSpecError) reproduces too.
        let wrapped = run("```python\nclass SpecError(Exception):\n    pass\ntry:\n    abs(None)\nexcept Exception as e:\n    raise SpecError('setup failed') from e\n```\nIt raises TypeError")
            .unwrap();
        assert_eq!(wrapped, (Some(1), "Issue reproduced".to_string()));
    }

    /// A notebook shows a cell's last expression, rich forms too (seaborn-3010's plot fails
    /// only when drawn); a console shows each expression statement's `repr`, and nothing else.
    #[test]
    fn values_are_shown_as_the_examples_setting_would() {
        let run = |issue: &str| {
            run(issue).map(|(code, out)| (code, out.lines().last().unwrap_or("").to_string()))
        };
        let plot = "class Plot:\n    def __repr__(self):\n        return 'Plot'\n    def _repr_png_(self):\n        return 1 / 0\n";
        let Some(drawn) = run(&format!(
            "```python\n{plot}Plot()\n```\nZeroDivisionError when shown"
        )) else {
            return; // no python3
        };
        assert_eq!(drawn, (Some(1), "Issue reproduced".to_string()));
        // Only the last expression is shown; a class is not drawn.
        for cell in ["Plot()\nprint(1)", "Plot"] {
            let shown = run(&format!("```python\n{plot}{cell}\n```\nZeroDivisionError"));
            assert_eq!(shown.unwrap().0, Some(0), "{cell}");
        }
        let console = |body: &str| {
            let lines: String = format!("{plot}{body}")
                .lines()
                .map(|l| format!(">>> {l}\n"))
                .collect();
            run(&format!("```pycon\n{lines}```\nZeroDivisionError")).unwrap()
        };
        // A console shows `repr` only, of every expression statement.
        assert_eq!(console("Plot()\nprint(1)").0, Some(0));
        let bad_repr = "class Bad:\n    def __repr__(self):\n        return str(1 / 0)\n";
        let shown = run(&format!(
            "```pycon\n{}```\nZeroDivisionError",
            format!("{bad_repr}Bad()\nprint(1)")
                .lines()
                .map(|l| format!(">>> {l}\n"))
                .collect::<String>()
        ));
        assert_eq!(shown.unwrap().0, Some(1));
    }
}
