//! How alike two agent replies are: a word-level ratio between 0 and 1.
//!
//! **Normalisation.** Each reply is lower-cased (Unicode case folding by `to_lowercase`),
//! apostrophes are dropped inside words (`We're` → `were`, `it’s` → `its`), every other
//! character that is not a letter or a digit separates words (so punctuation and runs of
//! whitespace count for nothing), and the words are kept in order.
//!
//! **Measure.** `2·M / T`, where `T` is the number of words in both replies and `M` the number of
//! words they share in the same order: the matches of a Myers diff of the two word sequences
//! (their longest common subsequence), computed by the [`similar`] crate — the ratio Python's
//! `difflib` popularised, over words instead of characters. 1 means the same words in the same
//! order, 0 no word in common; two empty replies are 1. Words, not characters, because an agent's
//! wording changes by words: "8 am" against "9 am" is one word in three, not one character in
//! four. Each reply is cut at [`MAX_WORDS`] words, which bounds the work on outside data.
//!
//! ```text
//! "We're open Monday to Friday 8 am to 6 pm, and Saturday 9 am to 1 pm."
//! "We're open from Monday to Friday, 8 am to 6 pm, and on Saturday from 9 am to 1 pm."
//! 17 + 20 words, 17 shared in order: 2·17/37 = 0.92
//! ```

use similar::{Algorithm, capture_diff_slices, diff_ratio};

/// The default `--threshold`: replies at least this alike are the same reply.
pub const DEFAULT_THRESHOLD: f64 = 0.8;

/// Words of a reply compared at most (a reply is a few sentences; this bounds outside data).
pub const MAX_WORDS: usize = 2000;

/// The normalised words of `text` (see the [module notes](self)).
pub fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if matches!(c, '\'' | '’') && !word.is_empty() {
            // Inside a word: dropped, so "we're" and "were" are one word.
        } else if !word.is_empty() {
            words.push(std::mem::take(&mut word));
            if words.len() == MAX_WORDS {
                return words;
            }
        }
    }
    if !word.is_empty() && words.len() < MAX_WORDS {
        words.push(word);
    }
    words
}

/// How alike `a` and `b` are, from 0 (no word in common) to 1 (the same words in order).
pub fn similarity(a: &str, b: &str) -> f64 {
    let (a, b) = (words(a), words(b));
    if a == b {
        return 1.0;
    }
    let ops = capture_diff_slices(Algorithm::Myers, &a, &b);
    f64::from(diff_ratio(&ops, a.len(), b.len()))
}

/// `similarity` rounded to the two decimals reports show (and JSON carries three of).
pub fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_ignores_case_punctuation_and_spacing() {
        assert_eq!(
            words("  We're OPEN — Monday,\tto  Friday! it’s 9am"),
            ["were", "open", "monday", "to", "friday", "its", "9am"]
        );
        assert_eq!(words("'quoted' text"), ["quoted", "text"]);
        assert_eq!(words("Ünïcödé ÉTÉ"), ["ünïcödé", "été"]);
        assert!(words("?!  …").is_empty());
        assert_eq!(words(&"word ".repeat(MAX_WORDS + 10)).len(), MAX_WORDS);
        assert_eq!(similarity("Hello, there!", "hello there"), 1.0);
        assert_eq!(similarity("", ""), 1.0);
        assert_eq!(similarity("", "hello"), 0.0);
    }

    #[test]
    fn ratio_counts_words_shared_in_order() {
        let recorded = "We're open Monday to Friday 8 am to 6 pm, and Saturday 9 am to 1 pm.";
        let reworded =
            "We're open from Monday to Friday, 8 am to 6 pm, and on Saturday from 9 am to 1 pm.";
        assert_eq!(
            round(similarity(recorded, reworded), 3),
            round(34.0 / 37.0, 3)
        );
        assert_eq!(similarity("a b c d", "d c b a"), 0.25, "one word in order");
        assert_eq!(similarity("yes", "no"), 0.0);
        assert!(similarity(recorded, reworded) >= DEFAULT_THRESHOLD);
        let other = "Good news: it's on its way and should reach you tomorrow evening.";
        let order = "Your order shipped yesterday and is due tomorrow before 6 pm.";
        assert!(similarity(order, other) < 0.2);
    }
}
