//! How many colours the terminal shows, and reducing a theme's colours to them: `#rrggbb` to the
//! nearest of the 256-colour palette or of the 16 ANSI colours.

use ratatui::style::Color;

/// The colours a terminal can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorDepth {
    Ansi16,
    Indexed256,
    TrueColor,
}

impl ColorDepth {
    /// From `COLORTERM` (`truecolor`, `24bit`) and `TERM` (`…-256color`).
    pub fn detect(colorterm: Option<&str>, term: Option<&str>) -> ColorDepth {
        if matches!(colorterm, Some("truecolor" | "24bit")) {
            ColorDepth::TrueColor
        } else if term.is_some_and(|t| t.contains("256")) {
            ColorDepth::Indexed256
        } else {
            ColorDepth::Ansi16
        }
    }
}

/// The 16 ANSI colours and the RGB xterm gives them.
const ANSI: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

/// `color` as the terminal can show it. A background that would become black on a 16-colour
/// terminal is dropped instead (a dark tint there is better shown as none).
pub fn reduce(color: Color, depth: ColorDepth, background: bool) -> Color {
    let rgb = match color {
        Color::Rgb(r, g, b) => (r, g, b),
        Color::Indexed(i) if depth == ColorDepth::Ansi16 && i >= 16 => indexed_rgb(i),
        Color::Indexed(i) if depth == ColorDepth::Ansi16 => return ANSI[usize::from(i)].0,
        other => return other,
    };
    match depth {
        ColorDepth::TrueColor => color,
        ColorDepth::Indexed256 => Color::Indexed(nearest_256(rgb)),
        ColorDepth::Ansi16 => {
            // A clearly coloured colour becomes a colour, never a grey, even when a grey is
            // nearer by distance: a green tint must stay green.
            let (max, min) = (rgb.0.max(rgb.1).max(rgb.2), rgb.0.min(rgb.1).min(rgb.2));
            let coloured = max - min >= 48;
            let nearest = ANSI
                .iter()
                .filter(|(_, c)| !coloured || c.0.max(c.1).max(c.2) != c.0.min(c.1).min(c.2))
                .min_by_key(|(_, c)| distance(*c, rgb))
                .map_or(Color::Reset, |(c, _)| *c);
            if background && nearest == Color::Black {
                Color::Reset
            } else {
                nearest
            }
        }
    }
}

fn distance(a: (u8, u8, u8), b: (u8, u8, u8)) -> u32 {
    let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).pow(2) as u32;
    // Weighted by how the eye sees each channel.
    2 * d(a.0, b.0) + 4 * d(a.1, b.1) + 3 * d(a.2, b.2)
}

/// The levels of the 6×6×6 colour cube.
const CUBE: [u8; 6] = [0, 95, 135, 175, 215, 255];

fn indexed_rgb(i: u8) -> (u8, u8, u8) {
    match i {
        0..=15 => ANSI[usize::from(i)].1,
        16..=231 => {
            let i = i - 16;
            (
                CUBE[usize::from(i / 36)],
                CUBE[usize::from(i / 6 % 6)],
                CUBE[usize::from(i % 6)],
            )
        }
        _ => {
            let level = 8 + (i - 232) * 10;
            (level, level, level)
        }
    }
}

/// The nearest colour of the cube or the grey ramp (the first 16 vary between terminals).
fn nearest_256(rgb: (u8, u8, u8)) -> u8 {
    (16..=255u8)
        .min_by_key(|i| distance(indexed_rgb(*i), rgb))
        .unwrap_or(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_comes_from_colorterm_then_term() {
        assert_eq!(
            ColorDepth::detect(Some("truecolor"), Some("xterm")),
            ColorDepth::TrueColor
        );
        assert_eq!(
            ColorDepth::detect(None, Some("tmux-256color")),
            ColorDepth::Indexed256
        );
        assert_eq!(ColorDepth::detect(None, Some("xterm")), ColorDepth::Ansi16);
        assert_eq!(ColorDepth::detect(None, None), ColorDepth::Ansi16);
    }

    #[test]
    fn rgb_is_reduced_to_the_nearest_palette_colour() {
        let orange = Color::Rgb(255, 135, 0);
        assert_eq!(reduce(orange, ColorDepth::TrueColor, false), orange);
        assert_eq!(
            reduce(orange, ColorDepth::Indexed256, false),
            Color::Indexed(208)
        );
        assert_eq!(
            reduce(Color::Rgb(250, 250, 250), ColorDepth::Indexed256, false),
            Color::Indexed(231)
        );
        assert_eq!(
            reduce(Color::Rgb(200, 10, 10), ColorDepth::Ansi16, false),
            Color::Red
        );
        assert_eq!(
            reduce(Color::Indexed(196), ColorDepth::Ansi16, false),
            Color::LightRed
        );
        assert_eq!(
            reduce(Color::Green, ColorDepth::Ansi16, false),
            Color::Green
        );
    }

    #[test]
    fn dark_tints_are_dropped_on_16_colours() {
        let tint = Color::Rgb(16, 48, 26);
        assert_eq!(reduce(tint, ColorDepth::Ansi16, true), Color::Reset);
        assert_eq!(reduce(tint, ColorDepth::Ansi16, false), Color::Black);
    }
}
