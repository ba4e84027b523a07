//! X12 acknowledgement codes carried by envelope problems, with their standard meanings.
//!
//! Sources (looked up, not remembered): TA105 interchange note codes (element I18) as listed in
//! stephenmccready/X12 `SQLCreate_X12_TA1_InterchangeNoteCode`; AK502 (element 718), AK905
//! (element 716), AK304 (element 720) and AK501/AK901 status codes as listed in Microsoft's
//! "997 functional acknowledgments and error codes" (azure-docs, logic-apps). Note: AK905 `4`
//! is the group control number mismatch and `5` the set count mismatch; AK502 `2` is the
//! missing SE, `3` the ST02/SE02 mismatch and `4` the SE01 count mismatch.

use serde::{Serialize, Serializer};

/// Which acknowledgement element would carry the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Carrier {
    /// TA105, interchange note code (interchange level, TA1).
    Ta105,
    /// AK905, functional group syntax error code (997 group level).
    Ak905,
    /// AK502, transaction set syntax error code (997 set level).
    Ak502,
    /// AK304, data segment note code (997 segment level).
    Ak304,
    /// UN/EDIFACT data element 0085, syntax error code (CONTRL UCI/UCM/UCS), used by the
    /// EDIFACT reader.
    Edifact0085,
}

/// One acknowledgement code, e.g. TA105 `001` or AK502 `4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code {
    pub carrier: Carrier,
    pub value: &'static str,
}

impl Code {
    pub fn description(&self) -> &'static str {
        CODES
            .iter()
            .chain(crate::formats::edifact::codes::CODES)
            .find(|(c, _)| c == self)
            .map(|(_, d)| *d)
            .unwrap_or("unknown code")
    }

    /// `TA105:001`, `AK905:5`, `AK502:3`, `AK304:2`.
    pub fn label(&self) -> String {
        let element = match self.carrier {
            Carrier::Ta105 => "TA105",
            Carrier::Ak905 => "AK905",
            Carrier::Ak502 => "AK502",
            Carrier::Ak304 => "AK304",
            Carrier::Edifact0085 => "0085",
        };
        format!("{element}:{}", self.value)
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.label())
    }
}

const fn ta1(value: &'static str) -> Code {
    Code {
        carrier: Carrier::Ta105,
        value,
    }
}
const fn ak9(value: &'static str) -> Code {
    Code {
        carrier: Carrier::Ak905,
        value,
    }
}
const fn ak5(value: &'static str) -> Code {
    Code {
        carrier: Carrier::Ak502,
        value,
    }
}
const fn ak3(value: &'static str) -> Code {
    Code {
        carrier: Carrier::Ak304,
        value,
    }
}

// Interchange level (TA105).
pub const TA1_CONTROL_MISMATCH: Code = ta1("001");
pub const TA1_BAD_TERMINATOR: Code = ta1("004");
pub const TA1_BAD_SENDER_QUALIFIER: Code = ta1("005");
pub const TA1_BAD_SENDER: Code = ta1("006");
pub const TA1_BAD_RECEIVER_QUALIFIER: Code = ta1("007");
pub const TA1_BAD_RECEIVER: Code = ta1("008");
pub const TA1_BAD_AUTH_QUALIFIER: Code = ta1("010");
pub const TA1_BAD_AUTH: Code = ta1("011");
pub const TA1_BAD_SECURITY_QUALIFIER: Code = ta1("012");
pub const TA1_BAD_SECURITY: Code = ta1("013");
pub const TA1_BAD_DATE: Code = ta1("014");
pub const TA1_BAD_TIME: Code = ta1("015");
pub const TA1_BAD_STANDARDS_ID: Code = ta1("016");
pub const TA1_BAD_VERSION: Code = ta1("017");
pub const TA1_BAD_CONTROL_NUMBER: Code = ta1("018");
pub const TA1_BAD_ACK_REQUESTED: Code = ta1("019");
pub const TA1_BAD_TEST_INDICATOR: Code = ta1("020");
pub const TA1_GROUP_COUNT: Code = ta1("021");
pub const TA1_BAD_STRUCTURE: Code = ta1("022");
pub const TA1_PREMATURE_END: Code = ta1("023");
pub const TA1_BAD_CONTENT: Code = ta1("024");
pub const TA1_DUPLICATE: Code = ta1("025");
pub const TA1_BAD_ELEMENT_SEPARATOR: Code = ta1("026");
pub const TA1_BAD_COMPONENT_SEPARATOR: Code = ta1("027");
// Functional group level (AK905).
pub const AK9_TRAILER_MISSING: Code = ak9("3");
pub const AK9_CONTROL_MISMATCH: Code = ak9("4");
pub const AK9_SET_COUNT: Code = ak9("5");
// Transaction set level (AK502).
pub const AK5_TRAILER_MISSING: Code = ak5("2");
pub const AK5_CONTROL_MISMATCH: Code = ak5("3");
pub const AK5_SEGMENT_COUNT: Code = ak5("4");
pub const AK5_BAD_CONTROL_NUMBER: Code = ak5("7");
// Segment level (AK304).
pub const AK3_UNEXPECTED_SEGMENT: Code = ak3("2");

/// Every code Tallyman emits, with the standard's wording.
pub const CODES: &[(Code, &str)] = &[
    (
        TA1_CONTROL_MISMATCH,
        "interchange control number in header and trailer do not match",
    ),
    (TA1_BAD_TERMINATOR, "the segment terminator is invalid"),
    (
        TA1_BAD_SENDER_QUALIFIER,
        "invalid interchange ID qualifier for sender",
    ),
    (TA1_BAD_SENDER, "invalid interchange sender ID"),
    (
        TA1_BAD_RECEIVER_QUALIFIER,
        "invalid interchange ID qualifier for receiver",
    ),
    (TA1_BAD_RECEIVER, "invalid interchange receiver ID"),
    (
        TA1_BAD_AUTH_QUALIFIER,
        "invalid authorization information qualifier value",
    ),
    (TA1_BAD_AUTH, "invalid authorization information value"),
    (
        TA1_BAD_SECURITY_QUALIFIER,
        "invalid security information qualifier value",
    ),
    (TA1_BAD_SECURITY, "invalid security information value"),
    (TA1_BAD_DATE, "invalid interchange date value"),
    (TA1_BAD_TIME, "invalid interchange time value"),
    (
        TA1_BAD_STANDARDS_ID,
        "invalid interchange standards identifier value",
    ),
    (TA1_BAD_VERSION, "invalid interchange version ID value"),
    (
        TA1_BAD_CONTROL_NUMBER,
        "invalid interchange control number value",
    ),
    (
        TA1_BAD_ACK_REQUESTED,
        "invalid acknowledgment requested value",
    ),
    (TA1_BAD_TEST_INDICATOR, "invalid test indicator value"),
    (TA1_GROUP_COUNT, "invalid number of included groups value"),
    (TA1_BAD_STRUCTURE, "invalid control structure"),
    (
        TA1_PREMATURE_END,
        "improper (premature) end-of-file (transmission)",
    ),
    (
        TA1_BAD_CONTENT,
        "invalid interchange content (e.g. invalid GS segment)",
    ),
    (TA1_DUPLICATE, "duplicate interchange control number"),
    (TA1_BAD_ELEMENT_SEPARATOR, "invalid data element separator"),
    (
        TA1_BAD_COMPONENT_SEPARATOR,
        "invalid component element separator",
    ),
    (AK9_TRAILER_MISSING, "functional group trailer missing"),
    (
        AK9_CONTROL_MISMATCH,
        "group control number in the functional group header and trailer do not agree",
    ),
    (
        AK9_SET_COUNT,
        "number of included transaction sets does not match actual count",
    ),
    (AK5_TRAILER_MISSING, "transaction set trailer missing"),
    (
        AK5_CONTROL_MISMATCH,
        "transaction set control number in header and trailer do not match",
    ),
    (
        AK5_SEGMENT_COUNT,
        "number of included segments does not match actual count",
    ),
    (
        AK5_BAD_CONTROL_NUMBER,
        "missing or invalid transaction set control number",
    ),
    (AK3_UNEXPECTED_SEGMENT, "unexpected segment"),
];
