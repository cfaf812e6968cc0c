//! Characters a name or an address must not hold: they are invisible, reorder the text around
//! them, break the line, or look like a blank. A hand-kept range table, checked against the
//! Unicode 16.0 data (DerivedGeneralCategory.txt and DerivedCoreProperties.txt): the union of
//! - General_Category=Cf (format: soft hyphen, zero-width and bidi controls, invisible
//!   operators such as U+2062, interlinear annotations U+FFF9–FFFB, tag characters), and
//! - Default_Ignorable_Code_Point (Hangul fillers U+115F/1160/3164/FFA0, variation selectors,
//!   the combining grapheme joiner U+034F, U+180B–180F, U+E0000–E0FFF, …),
//!
//! plus the line and paragraph separators U+2028/2029 and characters that draw nothing though
//! they are letters or symbols: U+2800 (braille blank), U+1D159 (null notehead), U+16FE4
//! (Khitan filler). A table rather than a property crate: 28 ranges, no dependency, and
//! the Unicode versions of new Cf / ignorable code points are rare (the list changed twice in
//! ten years); update it with the next Unicode release.

/// Inclusive ranges, sorted, not overlapping.
const HIDDEN: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{2028}', '\u{202E}'),
    ('\u{2060}', '\u{206F}'),
    ('\u{2800}', '\u{2800}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{FFF0}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{16FE4}', '\u{16FE4}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D159}', '\u{1D159}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0000}', '\u{E0FFF}'),
];

/// True for a character of [`HIDDEN`].
pub fn is_hidden(c: char) -> bool {
    HIDDEN
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_disjoint() {
        for pair in HIDDEN.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
        }
    }

    #[test]
    fn format_ignorable_and_blank_characters_are_hidden() {
        let hidden = [
            '\u{00AD}',
            '\u{034F}',
            '\u{061C}',
            '\u{115F}',
            '\u{180E}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{200E}',
            '\u{2028}',
            '\u{2029}',
            '\u{202E}',
            '\u{2060}',
            '\u{2062}',
            '\u{2066}',
            '\u{2800}',
            '\u{3164}',
            '\u{FE0F}',
            '\u{FEFF}',
            '\u{FFA0}',
            '\u{FFF9}',
            '\u{FFFB}',
            '\u{1D173}',
            '\u{E0001}',
            '\u{E0041}',
            '\u{E007F}',
            '\u{E0100}',
            '\u{E0FFF}',
        ];
        for c in hidden {
            assert!(is_hidden(c), "U+{:04X}", c as u32);
        }
        let shown =
            ['A', ' ', '\u{00A0}', '\u{00E9}', '\u{0301}', '\u{3000}', '\u{4E2D}', '\u{FFFC}', '\u{1F600}'];
        for c in shown {
            assert!(!is_hidden(c), "U+{:04X}", c as u32);
        }
    }
}
