//! Styles the reporters colour with, forced on or off by the `color`
//! setting rather than by what `console` guesses from the environment; with
//! colour off every style writes its text as it is.

use console::Style;

#[derive(Debug, Clone)]
pub(crate) struct Palette {
    pub(crate) ok: Style,
    pub(crate) bad: Style,
    pub(crate) warn: Style,
    pub(crate) cached: Style,
    pub(crate) dim: Style,
    pub(crate) bold: Style,
    pub(crate) accent: Style,
}

impl Palette {
    pub(crate) fn new(color: bool) -> Self {
        let f = |s: Style| s.force_styling(color);
        Palette {
            ok: f(Style::new().green()),
            bad: f(Style::new().red()),
            warn: f(Style::new().yellow()),
            cached: f(Style::new().cyan()),
            dim: f(Style::new().dim()),
            bold: f(Style::new().bold()),
            accent: f(Style::new().cyan()),
        }
    }
}

pub(crate) fn paint(style: &Style, text: &str) -> String {
    style.apply_to(text).to_string()
}
