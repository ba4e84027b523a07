//! UN/EDIFACT syntax error codes (data element 0085, as carried by CONTRL) used for envelope
//! problems. Source: the UN/EDIFACT 0085 code list as reproduced in Microsoft's EDIFACT CONTRL
//! acknowledgement documentation (biztalk-docs / azure-docs).

use crate::formats::x12::codes::{Carrier, Code};

const fn c(value: &'static str) -> Code {
    Code {
        carrier: Carrier::Edifact0085,
        value,
    }
}

pub const SYNTAX_NOT_SUPPORTED: Code = c("2");
pub const MISSING: Code = c("13");
pub const INVALID_SERVICE_CHARS: Code = c("22");
pub const REFERENCES_DO_NOT_MATCH: Code = c("28");
pub const COUNT_MISMATCH: Code = c("29");
pub const GROUPS_AND_MESSAGES_MIXED: Code = c("30");
pub const LOWER_LEVEL_EMPTY: Code = c("32");
pub const OUTSIDE_MESSAGE: Code = c("33");

/// Every 0085 code the EDIFACT reader emits, with the code list's wording.
pub const CODES: &[(Code, &str)] = &[
    (
        SYNTAX_NOT_SUPPORTED,
        "syntax version or level not supported",
    ),
    (MISSING, "missing"),
    (INVALID_SERVICE_CHARS, "invalid service character(s)"),
    (REFERENCES_DO_NOT_MATCH, "references do not match"),
    (
        COUNT_MISMATCH,
        "control count does not match number of instances received",
    ),
    (
        GROUPS_AND_MESSAGES_MIXED,
        "groups and messages/packages mixed",
    ),
    (LOWER_LEVEL_EMPTY, "lower level empty"),
    (
        OUTSIDE_MESSAGE,
        "invalid occurrence outside message, package or group",
    ),
];
