//! Themes: named roles mapped to styles, loaded from `themes/*.toml`; widget code asks for roles.
//!
//! A role `a.b.c` falls back to `a.b`, then `a`, then the terminal's default style. Built-ins are
//! `dark`, `light` and `high-contrast` (embedded); a user theme (`themes/NAME.toml` in the config
//! folder) may name only some roles and is laid over the built-in it `extends` (by default the
//! one matching the terminal's background). Colours are reduced to what the terminal shows
//! ([`ColorDepth`]); with `NO_COLOR` set they are dropped and only modifiers remain.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use super::color_depth::{ColorDepth, reduce};

/// The built-in themes, by name.
pub const BUILTIN: [(&str, &str); 3] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    /// The built-in this theme is laid over (user themes only).
    extends: Option<String>,
    #[serde(default)]
    roles: HashMap<String, RoleSpec>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    modifiers: Vec<String>,
}

/// How the terminal shows colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rendering {
    /// False with `NO_COLOR`: modifiers only.
    pub color: bool,
    pub depth: ColorDepth,
}

impl Rendering {
    /// From `NO_COLOR`, `COLORTERM` and `TERM`.
    pub fn from_env() -> Rendering {
        let var = |name| std::env::var(name).ok();
        Rendering {
            color: var("NO_COLOR").is_none_or(|v| v.is_empty()),
            depth: ColorDepth::detect(var("COLORTERM").as_deref(), var("TERM").as_deref()),
        }
    }
}

impl Default for Rendering {
    fn default() -> Self {
        Rendering {
            color: true,
            depth: ColorDepth::TrueColor,
        }
    }
}

/// Styles by role.
#[derive(Debug, Clone)]
pub struct Theme {
    roles: HashMap<String, Style>,
}

impl Theme {
    /// A built-in theme by name, in full colour.
    pub fn named(name: &str) -> Option<Theme> {
        let text = BUILTIN.iter().find(|(n, _)| *n == name)?.1;
        Theme::build(text, None, Rendering::default()).ok()
    }

    /// The theme the user asked for (`--theme`, else the config's `theme = …`), else the built-in
    /// that suits the terminal's background; for this terminal's colours. User themes are looked
    /// for in `dir` (`themes/` beside the config file).
    pub fn resolve(
        flag: Option<&str>,
        configured: Option<&str>,
        dir: Option<PathBuf>,
    ) -> Result<Theme> {
        let rendering = Rendering::from_env();
        let background = background_from_env();
        Theme::load(flag.or(configured), background, rendering, dir)
    }

    /// Loads theme `name`: a built-in, or `dir/NAME.toml` laid over the built-in it extends.
    pub fn load(
        name: Option<&str>,
        background: Background,
        rendering: Rendering,
        dir: Option<PathBuf>,
    ) -> Result<Theme> {
        let default = match background {
            Background::Light => "light",
            Background::Dark | Background::Unknown => "dark",
        };
        let name = name.unwrap_or(default);
        if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name) {
            return Theme::build(text, None, rendering);
        }
        let Some(path) = dir.map(|d| d.join(format!("{name}.toml"))) else {
            bail!("no theme called `{name}`: the built-ins are dark, light and high-contrast");
        };
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "no theme called `{name}`: the built-ins are dark, light and high-contrast, and {} cannot be read",
                path.display()
            )
        })?;
        let file: ThemeFile = toml::from_str(&text)
            .with_context(|| format!("the theme {} has an error", path.display()))?;
        let base = file.extends.as_deref().unwrap_or(default);
        let Some((_, base_text)) = BUILTIN.iter().find(|(n, _)| *n == base) else {
            bail!(
                "the theme {} extends `{base}`, which is not a built-in (dark, light, high-contrast)",
                path.display()
            );
        };
        Theme::build(base_text, Some(&text), rendering)
            .with_context(|| format!("in the theme {}", path.display()))
    }

    /// Parses a theme file; with `color` false, colours are dropped.
    pub fn parse(text: &str, color: bool) -> Result<Theme> {
        Theme::build(
            text,
            None,
            Rendering {
                color,
                ..Rendering::default()
            },
        )
    }

    /// `base`'s roles with `over`'s laid on top (a role in `over` replaces the base's).
    fn build(base: &str, over: Option<&str>, rendering: Rendering) -> Result<Theme> {
        let mut specs: HashMap<String, RoleSpec> = toml::from_str::<ThemeFile>(base)
            .context("the theme file has an error")?
            .roles;
        if let Some(over) = over {
            let over: ThemeFile = toml::from_str(over).context("the theme file has an error")?;
            specs.extend(over.roles);
        }
        let mut roles = HashMap::new();
        for (role, spec) in specs {
            let mut style = Style::default();
            if rendering.color {
                if let Some(fg) = &spec.fg {
                    let color = parse_color(fg).with_context(|| format!("role {role}"))?;
                    style = style.fg(reduce(color, rendering.depth, false));
                }
                if let Some(bg) = &spec.bg {
                    let color = parse_color(bg).with_context(|| format!("role {role}"))?;
                    style = style.bg(reduce(color, rendering.depth, true));
                }
            }
            for name in &spec.modifiers {
                style = style
                    .add_modifier(parse_modifier(name).with_context(|| format!("role {role}"))?);
            }
            roles.insert(role, style);
        }
        Ok(Theme { roles })
    }

    /// The style of a role, falling back to its parents.
    pub fn style(&self, role: &str) -> Style {
        let mut name = role;
        loop {
            if let Some(style) = self.roles.get(name) {
                return *style;
            }
            match name.rsplit_once('.') {
                Some((parent, _)) => name = parent,
                None => return Style::default(),
            }
        }
    }
}

/// The terminal's background, as far as it can be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Background {
    Dark,
    Light,
    Unknown,
}

/// From `COLORFGBG` (`fg;bg`, set by rxvt, Konsole and others): background colours 7 and 9–15
/// are light, the others dark.
pub fn background_from_colorfgbg(value: &str) -> Background {
    match value
        .rsplit(';')
        .next()
        .and_then(|bg| bg.trim().parse::<u8>().ok())
    {
        Some(7 | 9..=15) => Background::Light,
        Some(_) => Background::Dark,
        None => Background::Unknown,
    }
}

fn background_from_env() -> Background {
    std::env::var("COLORFGBG").map_or(Background::Unknown, |v| background_from_colorfgbg(&v))
}

fn parse_color(text: &str) -> Result<Color> {
    if let Ok(index) = text.parse::<u8>() {
        return Ok(Color::Indexed(index));
    }
    Color::from_str(text)
        .map_err(|_| anyhow::anyhow!("'{text}' is not a colour (a name, #rrggbb or 0-255)"))
}

fn parse_modifier(name: &str) -> Result<Modifier> {
    Ok(match name {
        "bold" => Modifier::BOLD,
        "dim" => Modifier::DIM,
        "italic" => Modifier::ITALIC,
        "underlined" => Modifier::UNDERLINED,
        "reversed" => Modifier::REVERSED,
        "crossed_out" => Modifier::CROSSED_OUT,
        other => bail!(
            "'{other}' is not a modifier (bold, dim, italic, underlined, reversed, crossed_out)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DARK: &str = BUILTIN[0].1;

    #[test]
    fn builtins_parse_and_roles_fall_back_to_parents() {
        for (name, text) in BUILTIN {
            Theme::parse(text, true).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
        let theme = Theme::parse(DARK, true).unwrap();
        assert_eq!(theme.style("diff.add").fg, Some(Color::Green));
        assert_eq!(theme.style("stage.done.extra"), theme.style("stage.done"));
        assert_eq!(theme.style("no.such.role"), Style::default());
    }

    #[test]
    fn no_color_keeps_only_modifiers() {
        let theme = Theme::parse(DARK, false).unwrap();
        assert_eq!(theme.style("diff.add").fg, None);
        assert!(theme.style("think").add_modifier.contains(Modifier::DIM));
    }

    #[test]
    fn bad_colours_are_named() {
        let err = Theme::parse("[roles]\nx = { fg = \"blurple\" }", true).unwrap_err();
        assert!(format!("{err:#}").contains("'blurple' is not a colour"));
    }

    #[test]
    fn a_partial_user_theme_is_laid_over_its_base() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mine.toml"),
            "extends = \"light\"\n[roles]\n\"diff.add\" = { fg = \"#ff0000\" }\n",
        )
        .unwrap();
        let rendering = Rendering::default();
        let dir = Some(dir.path().to_path_buf());
        let mine = Theme::load(Some("mine"), Background::Dark, rendering, dir.clone()).unwrap();
        let light = Theme::named("light").unwrap();
        assert_eq!(mine.style("diff.add").fg, Some(Color::Rgb(255, 0, 0)));
        assert_eq!(mine.style("title"), light.style("title"));
        let err = Theme::load(Some("nope"), Background::Dark, rendering, dir).unwrap_err();
        assert!(format!("{err:#}").contains("built-ins are dark, light and high-contrast"));
    }

    #[test]
    fn the_background_picks_the_default_theme() {
        assert_eq!(background_from_colorfgbg("15;0"), Background::Dark);
        assert_eq!(background_from_colorfgbg("0;default;15"), Background::Light);
        assert_eq!(background_from_colorfgbg("nonsense"), Background::Unknown);
        let rendering = Rendering::default();
        let light = Theme::load(None, Background::Light, rendering, None).unwrap();
        assert_eq!(
            light.style("title"),
            Theme::named("light").unwrap().style("title")
        );
    }

    #[test]
    fn colours_are_reduced_to_the_terminal_depth() {
        let rendering = Rendering {
            color: true,
            depth: ColorDepth::Ansi16,
        };
        let theme = Theme::build("[roles]\nx = { fg = \"#00ff00\" }", None, rendering).unwrap();
        assert_eq!(theme.style("x").fg, Some(Color::LightGreen));
    }
}
