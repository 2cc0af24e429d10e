//! Exports of a session's journal: SWE-bench predictions, a SWE-agent-style trajectory, and SFT
//! examples (one per stage step, history-pruned) with the paper's rejection-sampling checks.

pub mod checks;
pub mod gold;
mod steps;

pub use steps::{Step, Trajectory};

use serde_json::{Value, json};

use crate::event::{Envelope, Event, SessionHeader};

/// The model name an export reports: the model file, else the engine's description.
fn model_name(header: &SessionHeader) -> String {
    header
        .reproduce
        .as_ref()
        .and_then(|r| r.model.as_ref())
        .map(|m| format!("ponder/{}", m.name))
        .unwrap_or_else(|| format!("ponder/{}", header.engine.kind))
}

/// One SWE-bench prediction line: `instance_id`, `model_name_or_path`, `model_patch` (empty when
/// the session produced no patch).
pub fn swebench(trajectory: &Trajectory, instance_id: &str) -> Value {
    json!({
        "instance_id": instance_id,
        "model_name_or_path": model_name(&trajectory.header),
        "model_patch": trajectory.patch.clone().unwrap_or_default(),
    })
}

/// A SWE-agent-style trajectory: `trajectory` (steps of thought, action, observation, response),
/// `history` (the chat messages), `info` (submission, exit status, model stats).
pub fn traj(trajectory: &Trajectory) -> Value {
    let mut steps = Vec::new();
    let mut history = Vec::new();
    for step in &trajectory.steps {
        for message in &step.prompt {
            history.push(json!({ "role": message.role, "content": message.content }));
        }
        history.push(json!({
            "role": "assistant",
            "content": step.answer,
            "thought": step.think,
            "stage": step.stage.name(),
        }));
        let observation = step
            .tools
            .iter()
            .map(|(name, args, output)| format!("{name}({args}):\n{output}"))
            .collect::<Vec<_>>()
            .join("\n\n");
        steps.push(json!({
            "stage": step.stage.name(),
            "beam": step.beam,
            "round": step.round,
            "thought": step.think,
            "action": step.answer,
            "response": format!("<think>{}</think>\n{}", step.think, step.answer),
            "observation": observation,
            "score": step.score,
            "state": {},
        }));
    }
    for run in &trajectory.tests {
        steps.push(json!({
            "stage": "verify",
            "thought": "",
            "action": run.0,
            "response": "",
            "observation": run.1,
            "state": {},
        }));
    }
    let (sent, received) = trajectory.tokens;
    json!({
        "environment": format!("ponder {}", trajectory.header.ponder_version),
        "trajectory": steps,
        "history": history,
        "info": {
            "submission": trajectory.patch,
            "exit_status": trajectory.exit_status(),
            "model_name_or_path": model_name(&trajectory.header),
            "model_stats": {
                "api_calls": trajectory.steps.len(),
                "tokens_sent": sent,
                "tokens_received": received,
            },
        },
    })
}

/// SFT examples, one per step of the chosen trajectory: `prompt` (messages), `think`, `answer`.
pub fn sft(trajectory: &Trajectory, checks: Option<&checks::Checks>) -> Vec<Value> {
    trajectory
        .steps
        .iter()
        .map(|step| {
            json!({
                "session_id": trajectory.header.session_id,
                "stage": step.stage.name(),
                "beam": step.beam,
                "round": step.round,
                "prompt": step.prompt,
                "think": step.think,
                "answer": step.answer,
                "score": step.score,
                "checks": checks,
                "accepted": checks.map(checks::Checks::all_passed),
            })
        })
        .collect()
}

/// Whether a journal has the prompts SFT needs (format 2 and later).
pub fn has_prompts(envelopes: &[Envelope]) -> bool {
    envelopes
        .iter()
        .any(|e| matches!(e.event, Event::Prompt { .. }))
}
