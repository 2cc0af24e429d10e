//! How a loaded model's prompts are rendered: the config's override, else the model's own Jinja
//! template, else llama.cpp's built-in template for the model's family (known from the special
//! tokens of its vocabulary, then its architecture), else ChatML. Also what the template tells
//! about the model: whether it reasons in `<think>` tags, and what ends its turn.

use anyhow::{Result, anyhow};
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};

use crate::event::{Reasoning, ThinkMode};
use crate::model::Message;
use crate::model::family::{self, Family};
use crate::model::gguf::ModelMetadata;
use crate::model::template::{JinjaTemplate, role_name};

/// The chosen way of rendering prompts for one model.
#[derive(Debug, Clone)]
pub(super) enum Format {
    /// A Jinja template (the model's, or the config's); llama.cpp's families are the fallback.
    Jinja(JinjaTemplate),
    /// A llama.cpp built-in template, by name or text (`chatml`, `gemma`…).
    Builtin(String),
}

/// The prompt format of a model, with what was learnt choosing it.
#[derive(Debug, Clone)]
pub(super) struct PromptFormat {
    format: Format,
    /// Which template is used, and why (for `doctor` and the header).
    pub(super) chosen: String,
    /// The template (or the vocabulary) knows `<think>`: a reasoning model.
    pub(super) knows_think: Option<String>,
    /// Texts that end an assistant turn, when written as text instead of as the special token.
    pub(super) end_of_turn: Vec<String>,
}

impl PromptFormat {
    pub(super) fn new(model: &LlamaModel, meta: &ModelMetadata, over: Option<&str>) -> Self {
        let vocab = model.vocab();
        let piece =
            |token| String::from_utf8_lossy(&vocab.token_to_piece(token, true, None)).into_owned();
        let is_token = |text: &str| vocab.tokenize(text.as_bytes(), false, true).len() == 1;
        let jinja = |source: &str| {
            Format::Jinja(JinjaTemplate {
                source: source.to_string(),
                bos_token: piece(vocab.bos()),
                eos_token: piece(vocab.eos()),
            })
        };
        let (format, chosen, fam): (Format, String, Option<&Family>) =
            match (over, &meta.chat_template) {
                (Some(text), _) if is_jinja(text) => (
                    jinja(text),
                    "the chat_template of the config (Jinja)".to_string(),
                    family::of_template(text),
                ),
                (Some(name), _) => (
                    Format::Builtin(name.to_string()),
                    format!("llama.cpp's `{name}` template, named by chat_template in the config"),
                    family::FAMILIES.iter().find(|f| f.builtin == name),
                ),
                (None, Some(text)) => (
                    jinja(text),
                    "the model's own chat template".to_string(),
                    family::of_template(text),
                ),
                (None, None) => match family::of_model(&meta.architecture, is_token) {
                    Some((f, why)) => (
                        Format::Builtin(f.builtin.to_string()),
                        format!(
                            "llama.cpp's `{}` template: the GGUF has no chat template and {why}",
                            f.builtin
                        ),
                        Some(f),
                    ),
                    None => (
                        Format::Builtin("chatml".to_string()),
                        format!(
                            "ChatML: the GGUF has no chat template, and neither its vocabulary nor \
                             its architecture ({}) names a family; set chat_template in [llama] \
                             if its answers look wrong",
                            meta.architecture
                        ),
                        None,
                    ),
                },
            };
        let knows_think = knows_think(over, meta);
        let mut end_of_turn: Vec<String> = fam
            .map(|f| f.end_of_turn.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default();
        let eos = piece(vocab.eos());
        if !eos.is_empty() && !end_of_turn.contains(&eos) && eos != "</s>" {
            end_of_turn.push(eos);
        }
        PromptFormat {
            format,
            chosen,
            knows_think,
            end_of_turn,
        }
    }

    /// Whether candidates think under `mode`, and why.
    pub(super) fn reasoning(&self, mode: ThinkMode) -> Reasoning {
        reasoning(self.knows_think.as_deref(), mode)
    }

    /// Renders `messages` with the generation prompt.
    pub(super) fn render(&self, model: &LlamaModel, messages: &[Message]) -> Result<String> {
        match &self.format {
            Format::Jinja(template) => template.render(messages, true).or_else(|jinja| {
                builtin(model, &template.source, messages).map_err(|fallback| {
                    anyhow!(
                        "cannot render the chat template ({jinja:#}), nor with llama.cpp's \
                         built-in families ({fallback:#}); set `chat_template` in [llama] to a \
                         template or a built-in name such as \"chatml\""
                    )
                })
            }),
            Format::Builtin(name) => builtin(model, name, messages),
        }
    }
}

/// Why a model reasons in `<think>` tags, when it does, from the GGUF header alone (so it is
/// known before the weights load): the Jinja template its prompts are rendered with — the
/// config's `chat_template` when that is Jinja, else the model's own, none when the config
/// names a built-in — writes `<think>` or handles `reasoning_content`, or the vocabulary holds
/// both `<think>` and `</think>`.
pub(super) fn knows_think(over: Option<&str>, meta: &ModelMetadata) -> Option<String> {
    let template = match over {
        Some(text) if is_jinja(text) => Some(text),
        Some(_) => None,
        None => meta.chat_template.as_deref(),
    };
    match template {
        Some(text) if text.contains("<think>") => {
            Some("the chat template writes <think>".to_string())
        }
        Some(text) if text.contains("reasoning_content") || text.contains("enable_thinking") => {
            Some("the chat template handles reasoning_content".to_string())
        }
        _ if meta.think_tokens => {
            Some("the vocabulary has <think> and </think> tokens".to_string())
        }
        _ => None,
    }
}

/// Whether candidates think under `mode`, given why the model reasons (if it does).
pub(super) fn reasoning(knows_think: Option<&str>, mode: ThinkMode) -> Reasoning {
    Reasoning::decide(mode, || match knows_think {
        Some(why) => (true, format!("a reasoning model: {why}")),
        None => (
            false,
            "an instruct model that answers directly: neither its chat template nor its \
             vocabulary knows <think>"
                .to_string(),
        ),
    })
}

/// A config `chat_template` holding Jinja, not a built-in's name.
fn is_jinja(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

fn builtin(model: &LlamaModel, template: &str, messages: &[Message]) -> Result<String> {
    let template = LlamaChatTemplate::new(template)?;
    let chat = messages
        .iter()
        .map(|m| LlamaChatMessage::new(role_name(m.role).to_string(), m.content.clone()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(model.apply_chat_template(&template, &chat, true)?)
}
