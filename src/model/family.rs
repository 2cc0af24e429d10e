//! Chat-template families: the turn markers each family of models was trained on, what ends a
//! turn, and llama.cpp's built-in template for it.
//!
//! Used to pick a template for a GGUF that carries none (from the special tokens of its
//! vocabulary, then its architecture), to stop a model that writes its end-of-turn as plain text,
//! and to notice a model that writes another family's markers (a sign that it was prompted in a
//! format it does not know, or that it has begun to loop).

/// One family of chat templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    /// llama.cpp's built-in template name (`llama_chat_apply_template`).
    pub builtin: &'static str,
    /// Special tokens that identify the family when all of them are in a vocabulary.
    pub markers: &'static [&'static str],
    /// Texts that end an assistant turn.
    pub end_of_turn: &'static [&'static str],
    /// Architectures (GGUF `general.architecture`) that use it when the vocabulary does not tell.
    pub architectures: &'static [&'static str],
}

/// The families ponder recognises, most specific first.
pub const FAMILIES: &[Family] = &[
    Family {
        builtin: "gemma",
        markers: &["<start_of_turn>", "<end_of_turn>"],
        end_of_turn: &["<end_of_turn>"],
        architectures: &["gemma", "gemma2", "gemma3", "gemma3n"],
    },
    Family {
        builtin: "llama3",
        markers: &["<|start_header_id|>", "<|eot_id|>"],
        end_of_turn: &["<|eot_id|>"],
        architectures: &[],
    },
    Family {
        builtin: "deepseek3",
        markers: &["<｜User｜>", "<｜Assistant｜>"],
        end_of_turn: &["<｜end▁of▁sentence｜>"],
        architectures: &["deepseek2", "deepseek3"],
    },
    Family {
        builtin: "phi3",
        markers: &["<|user|>", "<|assistant|>", "<|end|>"],
        end_of_turn: &["<|end|>"],
        architectures: &["phi3"],
    },
    Family {
        builtin: "command-r",
        markers: &["<|START_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>"],
        end_of_turn: &["<|END_OF_TURN_TOKEN|>"],
        architectures: &["command-r", "cohere2"],
    },
    Family {
        builtin: "mistral-v7",
        markers: &["[INST]", "[/INST]", "[SYSTEM_PROMPT]"],
        end_of_turn: &["</s>"],
        architectures: &[],
    },
    Family {
        builtin: "llama2",
        markers: &["[INST]", "[/INST]"],
        end_of_turn: &["</s>"],
        architectures: &["llama"],
    },
    Family {
        builtin: "chatml",
        markers: &["<|im_start|>", "<|im_end|>"],
        end_of_turn: &["<|im_end|>", "<|endoftext|>"],
        architectures: &["qwen2", "qwen3", "qwen2moe", "qwen3moe"],
    },
];

/// Marker texts that never belong in an answer or in thinking: every family's turn markers.
pub fn turn_markers() -> impl Iterator<Item = &'static str> {
    FAMILIES
        .iter()
        .flat_map(|f| f.markers.iter().chain(f.end_of_turn))
        .copied()
        // `</s>` and `[INST]` are too common in real text (HTML, docs) to treat as a marker.
        .filter(|m| m.starts_with("<|") || m.starts_with("<｜") || m.ends_with("_of_turn>"))
}

/// The family whose markers a template's text uses, if any.
pub fn of_template(text: &str) -> Option<&'static Family> {
    FAMILIES
        .iter()
        .find(|f| f.markers.iter().all(|m| text.contains(m)))
}

/// The family of a model without a template: the first whose markers are all single tokens of its
/// vocabulary (`is_token`), else the one its architecture uses. Says why.
pub fn of_model(
    architecture: &str,
    is_token: impl Fn(&str) -> bool,
) -> Option<(&'static Family, String)> {
    if let Some(family) = FAMILIES
        .iter()
        .find(|f| f.markers.iter().all(|m| is_token(m)))
    {
        return Some((
            family,
            format!("its vocabulary has the tokens {}", family.markers.join(" ")),
        ));
    }
    FAMILIES
        .iter()
        .find(|f| f.architectures.contains(&architecture))
        .map(|f| (f, format!("its architecture is {architecture}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_decides_before_architecture() {
        let gemma_vocab = |t: &str| ["<start_of_turn>", "<end_of_turn>"].contains(&t);
        let (family, why) = of_model("gemma3", gemma_vocab).unwrap();
        assert_eq!(family.builtin, "gemma");
        assert!(why.contains("<start_of_turn>"), "{why}");
        let (family, why) = of_model("qwen2", |_| false).unwrap();
        assert_eq!(
            (family.builtin, why.as_str()),
            ("chatml", "its architecture is qwen2")
        );
        assert!(of_model("mamba", |_| false).is_none());
        // Mistral v7 needs [SYSTEM_PROMPT]; without it, llama2's [INST] format.
        let inst = |t: &str| ["[INST]", "[/INST]"].contains(&t);
        assert_eq!(of_model("llama", inst).unwrap().0.builtin, "llama2");
    }

    #[test]
    fn templates_are_known_by_their_markers() {
        assert_eq!(
            of_template("{{ '<|im_start|>' + m.role }}{{ '<|im_end|>' }}").map(|f| f.builtin),
            Some("chatml")
        );
        assert_eq!(of_template("{{ bos_token }}{{ m.content }}"), None);
        assert!(turn_markers().any(|m| m == "<|im_start|>"));
        assert!(turn_markers().all(|m| m != "</s>"));
    }
}
