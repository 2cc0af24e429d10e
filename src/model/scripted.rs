//! The scripted engine: plays prepared responses through the real pipeline, token by token.
//!
//! For tests and `ponder demo`. Nothing it produces is model output, and its [`EngineInfo`] says so
//! (`scripted: true`), which the header, the journal and the screen all show. A script is a TOML file
//! of `[[response]]` tables (`stage`, `text`, optional `score`); each request for `n` candidates of a
//! stage takes that stage's next `n` responses in file order.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::think::ThinkSplitter;
use super::{Engine, GenerateRequest, Generation, Judge, JudgeRequest, TokenSink};
use crate::event::{Channel, Control, EngineInfo, EngineSource, Stage};

/// One prepared response.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedResponse {
    pub stage: Stage,
    /// The whole response, `<think>…</think>` then the answer.
    pub text: String,
    /// What the scripted process reward model answers for this response, in [0, 1].
    #[serde(default)]
    pub score: Option<f64>,
    /// What the scripted outcome reward model answers for this (patch) response; `score` if unset.
    #[serde(default)]
    pub orm: Option<f64>,
    /// Which round of a candidate this answers: 1 (the default) for a stage's first answer, 2…
    /// for continuations after tool results.
    #[serde(default = "first_round")]
    pub round: u32,
}

fn first_round() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptFile {
    response: Vec<ScriptedResponse>,
}

/// An engine that replays a script.
#[derive(Debug)]
pub struct ScriptedEngine {
    source: String,
    responses: Vec<ScriptedResponse>,
    /// How many responses of each stage and round were served.
    served: HashMap<(Stage, u32), usize>,
    /// PRM and ORM scores of served answers, by answer text.
    scores: HashMap<String, (Option<f64>, Option<f64>)>,
    pace: Duration,
    origin: Option<EngineSource>,
}

impl ScriptedEngine {
    /// Parses a script; `source` names it in messages and in the engine description.
    pub fn from_toml(text: &str, source: &str) -> Result<ScriptedEngine> {
        let file: ScriptFile = toml::from_str(text)
            .with_context(|| format!("the script {source} is not a valid ponder script"))?;
        if file.response.is_empty() {
            bail!("the script {source} has no [[response]] entries");
        }
        for (i, response) in file.response.iter().enumerate() {
            if let Some(score) = response.score
                && !(0.0..=1.0).contains(&score)
            {
                bail!(
                    "the script {source}: response {} has score {score}, outside [0, 1]",
                    i + 1
                );
            }
        }
        Ok(ScriptedEngine {
            source: source.to_string(),
            responses: file.response,
            served: HashMap::new(),
            scores: HashMap::new(),
            pace: Duration::ZERO,
            origin: None,
        })
    }

    /// Reads a script file.
    pub fn from_file(path: &Path) -> Result<ScriptedEngine> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the script {}", path.display()))?;
        let mut engine = ScriptedEngine::from_toml(&text, &path.display().to_string())?;
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        engine.origin = Some(EngineSource::Script {
            path: absolute.display().to_string(),
        });
        Ok(engine)
    }

    /// Records where the script came from (for the built-in demo script).
    pub fn with_source(mut self, source: EngineSource) -> ScriptedEngine {
        self.origin = Some(source);
        self
    }

    /// Sets the delay between decode steps (one token per candidate per step).
    pub fn with_pace(mut self, pace: Duration) -> ScriptedEngine {
        self.pace = pace;
        self
    }

    fn take(&mut self, stage: Stage, round: u32, n: u32) -> Result<Vec<ScriptedResponse>> {
        let served = self.served.entry((stage, round)).or_default();
        let available: Vec<_> = self
            .responses
            .iter()
            .filter(|r| r.stage == stage && r.round == round)
            .collect();
        let wanted = *served + n as usize;
        if wanted > available.len() {
            bail!(
                "the script {} has {} response(s) for the {} stage{}, and {wanted} were asked for",
                self.source,
                available.len(),
                stage.name(),
                if round > 1 {
                    format!(" (round {round})")
                } else {
                    String::new()
                }
            );
        }
        let taken = available[*served..wanted]
            .iter()
            .map(|r| (*r).clone())
            .collect();
        *served = wanted;
        Ok(taken)
    }
}

/// Cuts text into token-sized pieces (a word, a few letters of a long word, a symbol, a newline),
/// so scripted text streams like a model's, tags cut across pieces included.
pub fn pseudo_tokens(text: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut start = 0;
    let mut letters = 0;
    for (i, c) in text.char_indices() {
        let boundary = if c.is_alphanumeric() || c == '_' {
            let prev_alnum = text[..i]
                .chars()
                .next_back()
                .is_some_and(|p| p.is_alphanumeric() || p == '_');
            letters += 1;
            if prev_alnum && letters <= 5 {
                false
            } else {
                letters = 1;
                !text[start..i].chars().all(|p| p == ' ')
            }
        } else {
            letters = 0;
            c != ' ' || !text[start..i].chars().all(|p| p == ' ')
        };
        if boundary && i > start {
            tokens.push(&text[start..i]);
            start = i;
        }
    }
    if start < text.len() {
        tokens.push(&text[start..]);
    }
    tokens
}

struct Stream<'a> {
    text: &'a str,
    tokens: Vec<&'a str>,
    next: usize,
    splitter: ThinkSplitter,
    think: String,
    answer: String,
    think_tokens: u32,
    answer_tokens: u32,
    forced: bool,
}

impl Engine for ScriptedEngine {
    fn info(&self) -> EngineInfo {
        EngineInfo {
            kind: "scripted".to_string(),
            description: format!("scripted responses from {}", self.source),
            scripted: true,
            context: None,
            device: None,
        }
    }

    /// Counted in the script's own pseudo-tokens, the unit its streamed tokens use.
    fn prompt_tokens(&self, messages: &[crate::model::Message]) -> Option<u32> {
        let words: usize = messages
            .iter()
            .map(|m| pseudo_tokens(&m.content).len())
            .sum();
        Some(words as u32)
    }

    fn source(&self) -> Option<EngineSource> {
        self.origin.clone()
    }

    fn replayed(&mut self, request: &GenerateRequest, generations: &[Generation]) {
        // Serve the same responses again, unseen, so the next live request gets the next ones,
        // and remember their scores for judges that come later (the ORM ranks earlier patches).
        if let Ok(responses) = self.take(request.stage, request.round.max(1), request.n) {
            for (response, generation) in responses.iter().zip(generations) {
                self.scores.insert(
                    generation.answer.trim_end().to_string(),
                    (response.score, response.orm.or(response.score)),
                );
            }
        }
    }

    fn generate(
        &mut self,
        request: &GenerateRequest,
        sink: &mut dyn TokenSink,
        control: &Control,
    ) -> Result<Vec<Generation>> {
        let responses = self.take(request.stage, request.round.max(1), request.n)?;
        let mut streams: Vec<Stream> = responses
            .iter()
            .map(|r| Stream {
                text: &r.text,
                tokens: pseudo_tokens(&r.text),
                next: 0,
                splitter: ThinkSplitter::new(),
                think: String::new(),
                answer: String::new(),
                think_tokens: 0,
                answer_tokens: 0,
                forced: false,
            })
            .collect();
        // One decode step = one token for every unfinished candidate, as a batch would.
        loop {
            control.checkpoint()?;
            let mut progressed = false;
            for (beam, stream) in streams.iter_mut().enumerate() {
                let Some(token) = stream.tokens.get(stream.next).copied() else {
                    continue;
                };
                stream.next += 1;
                progressed = true;
                let pieces = stream.splitter.push(token);
                let in_answer = stream.splitter.is_answering();
                if in_answer && stream.answer_tokens >= request.answer_budget {
                    stream.next = stream.tokens.len();
                    continue;
                }
                if in_answer {
                    stream.answer_tokens += 1;
                } else {
                    stream.think_tokens += 1;
                }
                deliver(stream, beam as u32, pieces, sink);
                if stream.splitter.is_thinking() && stream.think_tokens >= request.think_budget {
                    // Budget spent: close the thinking and skip the script's thinking to its end.
                    stream.forced = true;
                    let held = stream.splitter.force_answer();
                    deliver(stream, beam as u32, held, sink);
                    let here = token.as_ptr() as usize - stream.text.as_ptr() as usize;
                    if let Some(at) = stream.text[here..].find("</think>") {
                        let end = here + at + "</think>".len();
                        while let Some(next) = stream.tokens.get(stream.next)
                            && (next.as_ptr() as usize - stream.text.as_ptr() as usize) < end
                        {
                            stream.next += 1;
                        }
                    }
                }
            }
            if !progressed {
                break;
            }
            if !self.pace.is_zero() {
                std::thread::sleep(self.pace);
            }
        }
        let mut generations = Vec::new();
        for ((beam, mut stream), response) in streams.into_iter().enumerate().zip(&responses) {
            let rest = stream.splitter.finish();
            deliver(&mut stream, beam as u32, rest, sink);
            let answer = stream.answer.trim_end().to_string();
            self.scores.insert(
                answer.clone(),
                (response.score, response.orm.or(response.score)),
            );
            generations.push(Generation {
                beam: beam as u32,
                think: stream.think,
                answer,
                think_tokens: stream.think_tokens,
                answer_tokens: stream.answer_tokens,
                forced_answer: stream.forced,
                notes: Vec::new(),
            });
        }
        Ok(generations)
    }

    fn judge(&mut self, request: &JudgeRequest, _control: &Control) -> Result<Vec<f64>> {
        request
            .answers
            .iter()
            .map(|answer| {
                let (prm, orm) = self
                    .scores
                    .get(answer.trim_end())
                    .copied()
                    .unwrap_or_default();
                let score = match request.judge {
                    Judge::Prm => prm,
                    Judge::Orm => orm,
                };
                score.with_context(|| {
                    format!(
                        "the script {} gives no score for this {} answer",
                        self.source,
                        request.stage.name()
                    )
                })
            })
            .collect()
    }
}

fn deliver(
    stream: &mut Stream,
    beam: u32,
    pieces: Vec<(Channel, String)>,
    sink: &mut dyn TokenSink,
) {
    for (channel, text) in pieces {
        match channel {
            Channel::Think => stream.think.push_str(&text),
            Channel::Answer => stream.answer.push_str(&text),
        }
        sink.token(beam, channel, &text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Message, Sampling};

    const SCRIPT: &str = r#"
[[response]]
stage = "understand"
score = 0.8
text = '''
<think>
The parser is the likely culprit.
</think>
["a.py"]
'''
"#;

    struct Collect(Vec<(u32, Channel, String)>);

    impl TokenSink for Collect {
        fn token(&mut self, beam: u32, channel: Channel, text: &str) {
            self.0.push((beam, channel, text.to_string()));
        }
    }

    fn request(think_budget: u32) -> GenerateRequest {
        GenerateRequest {
            stage: Stage::Understand,
            messages: vec![Message::user("fix it")],
            n: 1,
            think_budget,
            answer_budget: 100,
            sampling: Sampling::default(),
            stop: Vec::new(),
            grammar: None,
            round: 1,
            think_style: Default::default(),
        }
    }

    #[test]
    fn pseudo_tokens_cover_the_text() {
        let text = "  <think>hello   wonderful_world</think>\n[\"a.py\"]";
        let tokens = pseudo_tokens(text);
        assert_eq!(tokens.concat(), text);
        assert!(tokens.len() > 10, "{tokens:?}");
    }

    #[test]
    fn streams_think_then_answer_and_scores_it() {
        let mut engine = ScriptedEngine::from_toml(SCRIPT, "test").unwrap();
        let mut sink = Collect(Vec::new());
        let control = Control::new();
        let out = engine
            .generate(&request(1000), &mut sink, &control)
            .unwrap();
        assert_eq!(out[0].think.trim(), "The parser is the likely culprit.");
        assert_eq!(out[0].answer, "[\"a.py\"]");
        assert!(!out[0].forced_answer);
        let streamed: String = sink
            .0
            .iter()
            .filter(|t| t.1 == Channel::Answer)
            .map(|t| t.2.as_str())
            .collect();
        assert_eq!(streamed.trim_end(), out[0].answer);
        let judged = JudgeRequest {
            stage: Stage::Understand,
            judge: Judge::Prm,
            prompts: Vec::new(),
            answers: vec![out[0].answer.clone()],
        };
        assert_eq!(engine.judge(&judged, &control).unwrap(), vec![0.8]);
    }

    #[test]
    fn think_budget_forces_the_answer() {
        let mut engine = ScriptedEngine::from_toml(SCRIPT, "test").unwrap();
        let out = engine
            .generate(&request(5), &mut Collect(Vec::new()), &Control::new())
            .unwrap();
        assert!(out[0].forced_answer);
        assert_eq!(out[0].think_tokens, 5);
        assert_eq!(out[0].think.trim(), "The");
        assert_eq!(out[0].answer, "[\"a.py\"]");
    }

    #[test]
    fn running_out_of_responses_is_a_clear_error() {
        let mut engine = ScriptedEngine::from_toml(SCRIPT, "test").unwrap();
        let mut req = request(1000);
        req.n = 2;
        let err = engine
            .generate(&req, &mut Collect(Vec::new()), &Control::new())
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("1 response(s) for the understand stage"),
            "{err}"
        );
    }

    #[test]
    fn bad_scripts_are_refused() {
        assert!(ScriptedEngine::from_toml("", "x").is_err());
        let bad = SCRIPT.replace("0.8", "1.5");
        assert!(
            ScriptedEngine::from_toml(&bad, "x")
                .unwrap_err()
                .to_string()
                .contains("outside [0, 1]")
        );
    }
}
