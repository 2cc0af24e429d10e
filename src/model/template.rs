//! Chat templates: turns a stage's messages into the exact prompt text a model was trained on.
//!
//! A GGUF carries its Hugging Face Jinja template (`tokenizer.chat_template`); it is rendered here
//! with minijinja configured the way `transformers` renders it (`trim_blocks`, `lstrip_blocks`,
//! Python string methods, `raise_exception`), so the prompt is byte-identical to the reference.
//! When a template cannot be rendered, the engine falls back to llama.cpp's built-in families.
//!
//! A template is a program from a downloaded file, so it runs under [`RenderLimits`]: a source
//! size, fuel (instructions), a recursion depth, an output size, and a wall-clock limit (the
//! render runs on its own thread with a large stack). A template that loops, recurses or
//! explodes gets an error that says which limit it hit, never a hang. minijinja has no memory
//! limit, so one gap remains: a template that doubles a string at each step of a loop allocates
//! 2^steps bytes before fuel or the clock stops it.

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use minijinja::{Environment, Error, ErrorKind, context};
use serde::Serialize;

use super::{Message, Role};

/// A Jinja chat template with the special tokens it may refer to.
#[derive(Debug, Clone)]
pub struct JinjaTemplate {
    pub source: String,
    pub bos_token: String,
    pub eos_token: String,
}

#[derive(Serialize)]
struct Msg<'a> {
    role: &'a str,
    content: &'a str,
}

/// Limits on rendering one chat template.
#[derive(Debug, Clone)]
pub struct RenderLimits {
    /// Longest template source, in bytes (real ones are a few KB to ~100 KB).
    pub max_source: usize,
    /// Instructions one render may run (a real template needs a few thousand per message).
    pub fuel: u64,
    /// minijinja's recursion depth (a macro call counts 4, an include 10; 500 at most).
    pub recursion: usize,
    /// Rendered bytes allowed beyond four times the messages' own bytes.
    pub output_slack: usize,
    /// Wall-clock time one render may take.
    pub time: Duration,
}

impl Default for RenderLimits {
    fn default() -> RenderLimits {
        RenderLimits {
            max_source: 1 << 20,
            fuel: 2_000_000,
            recursion: 200,
            output_slack: 1 << 20,
            time: Duration::from_secs(5),
        }
    }
}

impl RenderLimits {
    /// The most output a render of messages holding `input` bytes may produce.
    pub fn max_output(&self, input: usize) -> usize {
        input.saturating_mul(4).saturating_add(self.output_slack)
    }
}

/// The role's name as chat templates spell it.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

impl JinjaTemplate {
    /// Renders `messages`; with `add_generation_prompt` the text ends where the assistant begins.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        self.render_with(messages, add_generation_prompt, &RenderLimits::default())
    }

    /// Renders under explicit limits; see [`RenderLimits`].
    pub fn render_with(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
        limits: &RenderLimits,
    ) -> Result<String> {
        if self.source.len() > limits.max_source {
            bail!(
                "the chat template is {} bytes long, more than the {} ponder renders; set \
                 `chat_template` in [llama] to a template or a built-in name such as \"chatml\"",
                self.source.len(),
                limits.max_source
            );
        }
        let (tx, rx) = mpsc::channel();
        let template = self.clone();
        let messages = messages.to_vec();
        let thread_limits = limits.clone();
        std::thread::Builder::new()
            .name("chat-template".into())
            .stack_size(64 << 20)
            .spawn(move || {
                let _ =
                    tx.send(template.render_here(&messages, add_generation_prompt, &thread_limits));
            })
            .context("cannot start a thread to render the chat template")?;
        match rx.recv_timeout(limits.time) {
            Ok(result) => result,
            // The thread stops on its own when its fuel runs out; nobody waits for it.
            Err(mpsc::RecvTimeoutError::Timeout) => bail!(
                "the chat template took more than {:?} to render (it loops or builds huge text)",
                limits.time
            ),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                bail!("the chat template's renderer stopped without an answer")
            }
        }
    }

    fn render_here(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
        limits: &RenderLimits,
    ) -> Result<String> {
        let mut env = Environment::new();
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .map_err(|e| anyhow!("{e}"))?,
        );
        env.set_fuel(Some(limits.fuel));
        env.set_recursion_limit(limits.recursion);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |message: String| -> Result<(), Error> {
            Err(Error::new(ErrorKind::InvalidOperation, message))
        });
        env.add_function("strftime_now", |format: String| {
            jiff::Zoned::now().strftime(&format).to_string()
        });
        env.add_template("chat", &self.source)
            .map_err(|e| anyhow!("{e:#}"))
            .context("the chat template does not parse")?;
        let input: usize = messages.iter().map(|m| m.content.len()).sum();
        let max_output = limits.max_output(input);
        let messages: Vec<Msg> = messages
            .iter()
            .map(|m| Msg {
                role: role_name(m.role),
                content: &m.content,
            })
            .collect();
        let template = env.get_template("chat").map_err(|e| anyhow!("{e:#}"))?;
        let mut out = Capped {
            bytes: Vec::new(),
            max: max_output,
        };
        let rendered = template.render_captured_to(
            context! {
                messages => minijinja::Value::from(minijinja::value::Serde(&messages)),
                add_generation_prompt => add_generation_prompt,
                bos_token => self.bos_token.as_str(),
                eos_token => self.eos_token.as_str(),
            },
            &mut out,
        );
        if let Err(err) = rendered {
            let why = match err.kind() {
                ErrorKind::OutOfFuel => format!(
                    "it ran more than {} instructions (a loop that does not end?)",
                    limits.fuel
                ),
                ErrorKind::WriteFailure if out.bytes.len() >= max_output => {
                    format!("its output passed {max_output} bytes for {input} bytes of messages")
                }
                _ => format!("{err:#}"),
            };
            return Err(anyhow!(why)).context("the chat template failed to render");
        }
        String::from_utf8(out.bytes).context("the chat template rendered invalid UTF-8")
    }
}

/// Collects output and fails once it would pass `max` bytes.
struct Capped {
    bytes: Vec<u8>,
    max: usize,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > self.max {
            self.bytes.resize(self.max, 0);
            return Err(std::io::Error::other("output limit"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_chatml_template_with_python_methods() {
        let t = JinjaTemplate {
            source: "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content.strip() }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}".into(),
            bos_token: String::new(),
            eos_token: "<|im_end|>".into(),
        };
        let text = t.render(&[Message::user("  hi ")], true).unwrap();
        assert_eq!(
            text,
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn raise_exception_is_an_error_not_a_panic() {
        let t = JinjaTemplate {
            source: "{{ raise_exception('no system role') }}".into(),
            bos_token: String::new(),
            eos_token: String::new(),
        };
        let err = t.render(&[Message::user("x")], true).unwrap_err();
        assert!(format!("{err:#}").contains("no system role"), "{err:#}");
    }

    fn template(source: &str) -> JinjaTemplate {
        JinjaTemplate {
            source: source.into(),
            bos_token: String::new(),
            eos_token: String::new(),
        }
    }

    fn render_err(source: &str) -> String {
        let started = std::time::Instant::now();
        let err = template(source)
            .render(&[Message::user("hi")], true)
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "took {:?}",
            started.elapsed()
        );
        format!("{err:#}")
    }

    #[test]
    fn a_loop_that_does_not_end_runs_out_of_fuel() {
        let err = render_err(
            "{% for i in range(100000) %}{% for j in range(100000) %}{% if i == -1 %}x{% endif %}{% endfor %}{% endfor %}",
        );
        assert!(err.contains("instructions"), "{err}");
    }

    #[test]
    fn endless_recursion_is_refused() {
        let err = render_err("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
        assert!(err.contains("recursion"), "{err}");
    }

    #[test]
    fn exploding_output_is_cut() {
        let err = render_err("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}");
        assert!(err.contains("output passed"), "{err}");
    }

    #[test]
    fn slow_steps_hit_the_clock() {
        // Each step builds 40 MB that is never written: little fuel, much time.
        // Fuel for seconds of work, so a 10 ms clock comes first even on a fast machine, yet
        // little enough that the abandoned thread stops soon after the test.
        let limits = RenderLimits {
            time: Duration::from_millis(10),
            fuel: 50_000,
            ..RenderLimits::default()
        };
        let started = std::time::Instant::now();
        let err =
            template("{% for i in range(100000) %}{% set x = 'abcd' * 10000000 %}{% endfor %}")
                .render_with(&[Message::user("hi")], true, &limits)
                .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(format!("{err:#}").contains("took more than"), "{err:#}");
    }

    #[test]
    fn an_oversized_source_is_refused() {
        let err = render_err(&"x".repeat((1 << 20) + 1));
        assert!(err.contains("bytes long"), "{err}");
    }

    #[test]
    fn real_templates_use_little_of_the_limits() {
        let qwen = include_str!("../../tests/fixtures/templates/qwen2.5.jinja");
        let limits = RenderLimits {
            fuel: 20_000,
            ..RenderLimits::default()
        };
        let messages: Vec<Message> = (0..20).map(|i| Message::user(format!("m{i}"))).collect();
        template(qwen)
            .render_with(&messages, true, &limits)
            .expect("20 messages fit in 1% of the default fuel");
    }
}
