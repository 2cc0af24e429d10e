//! Stage prompts: templates in `assets/prompts/`, rendered with minijinja. A file of the same name
//! in the config directory's `prompts/` folder (`~/.config/ponder/prompts/patch.md`) replaces the
//! built-in one.

use anyhow::{Context, Result};
use minijinja::Environment;
use minijinja::Value;

use crate::assets;
use crate::event::Issue;
use crate::model::Message;

/// Every template a session uses.
pub const TEMPLATES: [&str; 10] = [
    "understand",
    "localize",
    "patch",
    "verify",
    "prm_understand",
    "prm_localize",
    "prm_patch",
    "prm_verify",
    "orm",
    "system",
];

/// How the model is asked to reason before it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reasoning {
    /// It answers at once.
    None,
    /// In `<think>` tags.
    Tags,
    /// A few sentences of plain text, then `ANSWER:`.
    Brief,
}

/// The prompt templates, loaded once.
pub struct Prompts {
    env: Environment<'static>,
    /// SHA-256 of each template's source, by name.
    hashes: std::collections::BTreeMap<String, String>,
    /// The templates the user's files replaced.
    overridden: Vec<String>,
}

impl Prompts {
    /// Loads the templates: the user's overrides where there are any, else the built-in ones.
    pub fn load() -> Result<Prompts> {
        let overrides =
            crate::config::config_path().and_then(|p| p.parent().map(|d| d.join("prompts")));
        let mut env = Environment::new();
        let mut hashes = std::collections::BTreeMap::new();
        let mut overridden = Vec::new();
        for name in TEMPLATES {
            let source: String = match overrides.as_ref().map(|d| d.join(format!("{name}.md"))) {
                Some(path) if path.is_file() => {
                    overridden.push(name.to_string());
                    std::fs::read_to_string(&path).with_context(|| {
                        format!("cannot read the prompt override {}", path.display())
                    })?
                }
                _ => assets::text(&format!("prompts/{name}.md"))?.to_string(),
            };
            hashes.insert(
                name.to_string(),
                crate::session::fingerprint::sha256_hex(&source),
            );
            env.add_template_owned(name.to_string(), source)
                .with_context(|| format!("the prompt template {name}.md does not parse"))?;
        }
        Ok(Prompts {
            env,
            hashes,
            overridden,
        })
    }

    /// SHA-256 of every template's source as loaded, by name.
    pub fn hashes(&self) -> &std::collections::BTreeMap<String, String> {
        &self.hashes
    }

    /// The templates replaced by the user's files.
    pub fn overridden(&self) -> &[String] {
        &self.overridden
    }

    /// The system message and the rendered user message of template `name`; the templates are
    /// told how the model reasons first (`think`: in tags, `brief`: plain text then `ANSWER:`).
    pub fn messages(
        &self,
        name: &str,
        issue: &Issue,
        context: Value,
        reasoning: Reasoning,
    ) -> Result<Vec<Message>> {
        let think = reasoning == Reasoning::Tags;
        let brief = reasoning == Reasoning::Brief;
        let template = self.env.get_template(name)?;
        let user = template
            .render(minijinja::context! {
                issue_title => &issue.title,
                issue_body => &issue.body,
                think,
                brief,
                ..context
            })
            .with_context(|| format!("cannot render the {name} prompt"))?;
        let system = self
            .env
            .get_template("system")?
            .render(minijinja::context! { think, brief })?;
        Ok(vec![
            Message::system(system.trim_end()),
            Message::user(user),
        ])
    }
}
