//! JSON inside free-form answers: the first JSON array that parses as what is wanted, wherever it
//! sits (prose around it, code fences, an object wrapped around it, text after it).

use anyhow::{Result, bail};
use serde::de::DeserializeOwned;

/// The first JSON array in `answer` that parses as a list of `T`, read from its `[` up to where the
/// array ends (what follows is ignored). `what` names the items in the error.
pub fn json_array<T: DeserializeOwned>(answer: &str, what: &str) -> Result<Vec<T>> {
    let mut first_error = None;
    for (at, _) in answer.match_indices('[') {
        let mut values = serde_json::Deserializer::from_str(&answer[at..]).into_iter::<Vec<T>>();
        match values.next() {
            Some(Ok(items)) => return Ok(items),
            Some(Err(err)) => {
                first_error.get_or_insert(err);
            }
            None => {}
        }
    }
    match first_error {
        None => bail!("the answer has no JSON array of {what}"),
        Some(err) => bail!("the answer's JSON array of {what} does not parse: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_the_array_inside_prose_and_fences() {
        let files: Vec<String> =
            json_array("Here:\n```json\n[\"a.py\", \"b/c.py\"]\n```", "paths").unwrap();
        assert_eq!(files, ["a.py", "b/c.py"]);
        assert!(json_array::<String>("no list", "paths").is_err());
        assert!(json_array::<String>("] oops [", "paths").is_err());
    }

    #[test]
    fn text_after_the_array_and_brackets_before_it_do_not_matter() {
        // A later `]` (a second list, prose) used to be taken as the end of the first array.
        let files: Vec<String> =
            json_array("[\"a.py\"]\nI also looked at [b.py] and [c].", "paths").unwrap();
        assert_eq!(files, ["a.py"]);
        // A bracket in prose before the real array.
        let files: Vec<String> =
            json_array("The files [most relevant first]: [\"x.py\"]", "paths").unwrap();
        assert_eq!(files, ["x.py"]);
        // An object around the array.
        let files: Vec<String> = json_array("{\"files\": [\"y.py\"]}", "paths").unwrap();
        assert_eq!(files, ["y.py"]);
    }

    #[test]
    fn a_broken_array_says_why() {
        let err = json_array::<String>("[\"a.py\", ]", "file paths")
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not parse"), "{err}");
    }

    proptest! {
        #[test]
        fn never_panics(text in "(\\PC|\\[|\\]|\"|,){0,60}") {
            let _ = json_array::<String>(&text, "x");
        }
    }
}
