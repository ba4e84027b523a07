//! Every X12 fixture with what it really holds: envelope counts and the exact envelope problems
//! (acknowledgement code, 1-based segment index, byte offset, E=error/W=warning).

use std::path::Path;

use tallyman::formats::x12;
use tallyman::issue::Severity;

type Row = (
    &'static str,
    usize,
    usize,
    usize,
    &'static [(&'static str, u32, usize, char)],
);

// Files named *fail*, *invalid*, *ERR*, ControlNumbersMismatch, WrongGroupsAndTranCount and
// NonEdi carry deliberate errors; the ediNet samples (SE01=50, IEA02 != ISA13), the x12-types
// 310 (counts and control numbers) and several inline samples (SE01 off by a few) carry
// accidental ones. ISA text fields not padded to fixed width are warnings (ISA02/04/06/08).
#[rustfmt::skip]
const SAMPLES: &[Row] = &[
    ("ediEngine_850.Composite.SLN.OK.edi", 1, 1, 1, &[]),
    ("ediEngine_850.OK.edi", 1, 1, 1, &[]),
    ("ediEngine_850.SyntaxNotes.ERR.edi", 1, 1, 1, &[]),
    ("ediEngine_856.Crossdock.OK.edi", 1, 1, 1, &[]),
    ("ediEngine_856.Crossdock.OK.xml", 0, 0, 0, &[("TA105:022", 1, 0, 'E')]),
    ("ediEngine_940.2.OK.edi", 1, 1, 1, &[]),
    ("ediEngine_940.OK.edi", 1, 1, 1, &[]),
    ("ediEngine_940.W05.Only.edi", 1, 1, 1, &[]),
    ("ediEngine_940_Failed_SE01.edi", 1, 1, 1, &[("AK502:4", 11, 307, 'E')]),
    ("ediEngine_AckTest.edi", 1, 2, 3, &[]),
    ("ediEngine_ControlNumbersMismatch.edi", 1, 1, 1, &[("AK502:3", 7, 265, 'E'), ("AK905:4", 8, 275, 'E'), ("TA105:001", 9, 285, 'E')]),
    ("ediEngine_MultipleInterchangesAndGroups.edi", 2, 4, 6, &[]),
    ("ediEngine_NonEdi.edi", 0, 0, 0, &[("TA105:022", 1, 0, 'E')]),
    ("ediEngine_WrongGroupsAndTranCount.edi", 1, 1, 1, &[("AK905:5", 8, 275, 'E'), ("TA105:021", 9, 285, 'E')]),
    ("ediNet_x12.810.mandatory-conditions.edi", 1, 1, 1, &[("TA105:008", 1, 70, 'W'), ("AK502:4", 8, 287, 'E'), ("TA105:001", 10, 308, 'E')]),
    ("ediNet_x12.810a.edi", 1, 1, 1, &[("TA105:011", 1, 10, 'W'), ("TA105:013", 1, 15, 'W'), ("TA105:008", 1, 39, 'W')]),
    ("ediNet_x12.810b.edi", 1, 1, 1, &[("TA105:011", 1, 10, 'W'), ("TA105:013", 1, 15, 'W'), ("TA105:008", 1, 39, 'W')]),
    ("ediNet_x12.810c.edi", 1, 1, 1, &[("TA105:011", 1, 10, 'W'), ("TA105:013", 1, 15, 'W'), ("TA105:008", 1, 39, 'W')]),
    ("ediNet_x12.810d.edi", 1, 1, 1, &[("TA105:011", 1, 10, 'W'), ("TA105:013", 1, 15, 'W'), ("TA105:008", 1, 39, 'W')]),
    ("ediNet_x12.832.edi", 1, 1, 1, &[("TA105:011", 1, 10, 'W'), ("TA105:013", 1, 15, 'W'), ("TA105:006", 1, 20, 'W'), ("TA105:008", 1, 34, 'W'), ("AK502:4", 14, 748, 'E')]),
    ("ediNet_x12.850.edi", 1, 1, 1, &[("TA105:001", 15, 373, 'E')]),
    ("ediNet_x12.850.issue135.edi", 1, 1, 2, &[("AK502:4", 88, 1797, 'E')]),
    ("ediNet_x12.850a.edi", 1, 1, 1, &[("TA105:008", 1, 70, 'W'), ("TA105:001", 54, 1744, 'E')]),
    ("ediNet_x12.Issue101.edi", 1, 1, 1, &[("TA105:008", 1, 70, 'W'), ("AK502:4", 7, 293, 'E'), ("TA105:001", 9, 317, 'E')]),
    ("ediNet_x12.Issue172.edi", 1, 1, 1, &[("TA105:008", 1, 67, 'W'), ("AK502:4", 12, 353, 'E'), ("TA105:001", 14, 374, 'E')]),
    ("ediNet_x12.Issue91.edi", 1, 1, 1, &[("TA105:008", 1, 70, 'W'), ("AK502:4", 9, 305, 'E'), ("TA105:001", 11, 326, 'E')]),
    ("nodex12_850.edi", 1, 1, 1, &[]),
    ("nodex12_850_2.edi", 1, 1, 1, &[]),
    ("nodex12_850_3.edi", 1, 1, 1, &[]),
    ("nodex12_850_fat.edi", 2, 2, 2, &[]),
    ("nodex12_855.edi", 1, 1, 1, &[]),
    ("nodex12_856.edi", 1, 1, 1, &[]),
    ("stupidedi_002001_SH856_fail_1.edi", 1, 1, 2, &[("TA105:011", 1, 7, 'W'), ("TA105:013", 1, 12, 'W'), ("TA105:006", 1, 17, 'W'), ("TA105:008", 1, 31, 'W')]),
    ("stupidedi_003010_PO850_fail_1.edi", 1, 1, 1, &[("TA105:011", 1, 7, 'W'), ("TA105:013", 1, 12, 'W'), ("TA105:006", 1, 17, 'W'), ("TA105:008", 1, 35, 'W'), ("AK502:4", 29, 870, 'E')]),
    ("stupidedi_003050_PO850_fail_1.edi", 1, 1, 1, &[("TA105:011", 1, 7, 'W'), ("TA105:013", 1, 12, 'W'), ("TA105:006", 1, 17, 'W'), ("TA105:008", 1, 35, 'E')]),
    ("stupidedi_004010_FA997_pass_1.edi", 1, 1, 1, &[("TA105:006", 1, 35, 'W')]),
    ("stupidedi_004010_PR855_fail_2.edi", 1, 1, 1, &[("TA105:011", 1, 7, 'W'), ("TA105:013", 1, 12, 'W'), ("TA105:006", 1, 17, 'W'), ("TA105:008", 1, 33, 'W'), ("TA105:015", 1, 54, 'E')]),
    ("stupidedi_004010_PR855_pass_1.edi", 1, 1, 1, &[]),
    ("stupidedi_004010_SC810_pass_basic-invoice.edi", 1, 1, 1, &[]),
    ("stupidedi_004010_SC810_pass_credit-card-invoice.edi", 1, 1, 1, &[]),
    ("stupidedi_004010_SC832_fail_1.edi", 1, 1, 1, &[("TA105:011", 1, 7, 'W'), ("TA105:015", 1, 79, 'E'), ("AK502:4", 19, 537, 'E')]),
    ("stupidedi_004010_SC832_fail_2.edi", 1, 1, 1, &[("TA105:006", 1, 35, 'W')]),
    ("stupidedi_004010_SC850_pass_basic-po.edi", 1, 1, 1, &[]),
    ("stupidedi_004010_SC850_pass_taxexempt-po.edi", 1, 1, 1, &[]),
    ("stupidedi_004010_SH856_fail_2.edi", 1, 1, 1, &[("AK502:4", 24, 655, 'E')]),
    ("x12types_004010_310.edi", 1, 1, 1, &[("AK502:4", 48, 1612, 'E'), ("AK502:3", 48, 1612, 'E'), ("AK905:4", 49, 1625, 'E'), ("TA105:001", 50, 1637, 'E')]),
    ("x12types_004010_850.edi", 1, 1, 1, &[]),
    ("x12types_004060_856.edi", 1, 1, 1, &[]),
    ("x12types_005010_824.edi", 1, 1, 1, &[]),
    ("x12types_inline/parse_850_10_L246.edi", 1, 1, 1, &[("TA105:022", 1, 0, 'E'), ("TA105:024", 1, 0, 'E'), ("AK502:4", 17, 541, 'E')]),
    ("x12types_inline/parse_850_11_L273.edi", 1, 1, 1, &[("TA105:022", 1, 0, 'E'), ("TA105:024", 1, 0, 'E'), ("AK502:4", 17, 556, 'E')]),
    ("x12types_inline/parse_850_12_L298.edi", 1, 1, 1, &[("TA105:022", 1, 0, 'E'), ("TA105:024", 1, 0, 'E')]),
    ("x12types_inline/parse_850_13_L324.edi", 1, 1, 1, &[("TA105:022", 1, 0, 'E'), ("TA105:024", 1, 0, 'E')]),
    ("x12types_inline/parse_850_14_L345.edi", 1, 1, 1, &[("TA105:022", 1, 0, 'E'), ("TA105:024", 1, 0, 'E')]),
    ("x12types_inline/parse_850_15_L385.edi", 1, 1, 1, &[("TA105:022", 1, 0, 'E'), ("TA105:024", 1, 0, 'E'), ("AK502:3", 37, 1246, 'E')]),
    ("x12types_inline/parse_850_1_L6.edi", 1, 1, 1, &[("TA105:011", 1, 7, 'W'), ("TA105:013", 1, 12, 'W'), ("TA105:006", 1, 17, 'W'), ("TA105:008", 1, 26, 'W')]),
    ("x12types_inline/parse_850_2_L39.edi", 1, 1, 1, &[("TA105:011", 1, 7, 'W'), ("TA105:013", 1, 12, 'W'), ("TA105:006", 1, 17, 'W'), ("TA105:008", 1, 26, 'W')]),
    ("x12types_inline/parse_850_3_L69.edi", 1, 1, 1, &[("TA105:011", 1, 7, 'W'), ("TA105:013", 1, 12, 'W'), ("TA105:006", 1, 17, 'W'), ("TA105:008", 1, 26, 'W')]),
    ("x12types_inline/parse_850_4_L96.edi", 1, 1, 1, &[("TA105:011", 1, 7, 'W'), ("TA105:013", 1, 12, 'W'), ("TA105:006", 1, 17, 'W'), ("TA105:008", 1, 26, 'W'), ("AK502:4", 31, 790, 'E')]),
    ("x12types_inline/parse_850_5_L137.edi", 1, 1, 1, &[("TA105:022", 1, 0, 'E'), ("TA105:024", 1, 0, 'E')]),
    ("x12types_inline/parse_850_6_L158.edi", 1, 1, 1, &[("TA105:022", 1, 0, 'E'), ("TA105:024", 1, 0, 'E')]),
    ("x12types_inline/parse_850_7_L178.edi", 1, 1, 1, &[("TA105:022", 1, 0, 'E'), ("TA105:024", 1, 0, 'E')]),
    ("x12types_inline/parse_850_8_L201.edi", 1, 1, 1, &[("TA105:022", 1, 0, 'E'), ("TA105:024", 1, 0, 'E')]),
    ("x12types_inline/parse_850_9_L225.edi", 1, 1, 1, &[("TA105:022", 1, 0, 'E'), ("TA105:024", 1, 0, 'E')]),
    ("x12types_inline/test_810_1_L6.edi", 1, 1, 1, &[("TA105:011", 1, 7, 'W'), ("TA105:013", 1, 12, 'W'), ("TA105:006", 1, 17, 'W'), ("TA105:008", 1, 35, 'W'), ("AK502:4", 47, 1417, 'E')]),
    ("x12types_inline/test_810_2_L66.edi", 1, 1, 1, &[]),
    ("x12types_inline/test_810_3_L101.edi", 1, 1, 1, &[("TA105:022", 1, 0, 'E'), ("TA105:024", 1, 0, 'E')]),
    ("x12types_inline/test_855_1_L9.edi", 1, 1, 1, &[("TA105:011", 1, 7, 'W'), ("TA105:013", 1, 12, 'W'), ("TA105:006", 1, 17, 'W'), ("TA105:008", 1, 31, 'W'), ("AK502:4", 8, 265, 'E')]),
    ("x12types_inline/test_856_2_L78.edi", 1, 1, 1, &[("AK905:5", 47, 1002, 'E')]),
    ("x12types_inline/test_856_basic_structure_L153.edi", 1, 1, 1, &[("AK502:4", 16, 368, 'E')]),
    ("x12types_inline/test_856_simple_L5.edi", 1, 1, 1, &[("AK502:4", 5, 201, 'E')]),
    ("x12types_inline/test_856_with_carrier_details_L186.edi", 1, 1, 1, &[("AK502:4", 20, 443, 'E')]),
    ("x12types_inline/test_856_with_line_items_L223.edi", 1, 1, 1, &[("AK502:4", 19, 408, 'E')]),
    ("x12types_inline/test_856_xx_L334.edi", 1, 1, 1, &[("TA105:011", 1, 7, 'W'), ("TA105:013", 1, 12, 'W'), ("TA105:006", 1, 17, 'W'), ("TA105:008", 1, 32, 'W')]),
    ("x12types_inline/test_940_1_L7.edi", 1, 1, 1, &[("AK905:4", 32, 874, 'E'), ("TA105:001", 33, 887, 'E')]),
    ("x12types_inline/test_940_2_L50.edi", 1, 1, 1, &[]),
    ("x12types_inline/test_940_3_L99.edi", 1, 1, 1, &[]),
    ("x12types_inline/test_940_4_L135.edi", 1, 1, 1, &[]),
    ("x12types_inline/test_940_5_L168.edi", 1, 1, 1, &[]),
    ("x12types_inline/test_940_boundary_conditions_L509.edi", 1, 1, 1, &[("TA105:019", 1, 100, 'E'), ("AK502:4", 5, 225, 'E')]),
    ("x12types_inline/test_940_edge_cases_valid_L410.edi", 1, 1, 1, &[("AK502:4", 5, 170, 'E')]),
    ("x12types_inline/test_940_invalid_isa_missing_fields_L197.edi", 0, 0, 0, &[("TA105:022", 1, 0, 'E')]),
    ("x12types_inline/test_940_invalid_isa_no_segment_terminator_L211.edi", 1, 1, 1, &[("AK502:4", 5, 211, 'E'), ("AK905:4", 6, 226, 'E'), ("TA105:001", 7, 237, 'E')]),
    ("x12types_inline/test_940_invalid_isa_wrong_element_separator_L225.edi", 1, 1, 1, &[("TA105:026", 1, 17, 'E'), ("AK502:4", 5, 212, 'E')]),
    ("x12types_inline/test_940_invalid_unicode_characters_validation_L468.edi", 0, 0, 0, &[("TA105:004", 1, 104, 'E')]),
    ("x12types_inline/test_940_isa_too_many_fields_L395.edi", 0, 0, 0, &[("TA105:004", 1, 104, 'E')]),
    ("x12types_inline/test_940_malformed_document_structure_L373.edi", 1, 0, 0, &[("TA105:023", 1, 0, 'E')]),
    ("x12types_inline/test_940_multiple_component_separators_L381.edi", 0, 0, 0, &[("TA105:027", 1, 104, 'E')]),
    ("x12types_inline/test_940_newline_as_segment_terminator_L709.edi", 1, 1, 1, &[("AK502:4", 5, 187, 'E'), ("AK905:4", 6, 198, 'E'), ("TA105:001", 7, 206, 'E')]),
    ("x12types_inline/test_940_same_component_and_segment_separator_L765.edi", 0, 0, 0, &[("TA105:027", 1, 104, 'E')]),
    ("x12types_inline/test_940_segment_terminator_as_component_separator_L331.edi", 1, 1, 1, &[("AK502:4", 5, 212, 'E')]),
    ("x12types_inline/test_940_truncated_isa_L365.edi", 0, 0, 0, &[("TA105:023", 1, 0, 'E')]),
    ("x12types_inline/test_940_usage_indicator_invalid_value_L559.edi", 1, 1, 1, &[("TA105:020", 1, 102, 'E'), ("AK502:4", 5, 188, 'E')]),
    ("x12types_inline/test_940_validation_failures_L262.edi", 1, 0, 0, &[("TA105:010", 1, 4, 'E'), ("TA105:023", 1, 0, 'E')]),
    ("x12types_inline/test_940_validation_failures_L264.edi", 1, 0, 0, &[("TA105:010", 1, 4, 'E'), ("TA105:023", 1, 0, 'E')]),
    ("x12types_inline/test_940_validation_failures_L266.edi", 1, 0, 0, &[("TA105:011", 1, 7, 'W'), ("TA105:023", 1, 0, 'E')]),
    ("x12types_inline/test_940_validation_failures_L268.edi", 1, 0, 0, &[("TA105:011", 1, 7, 'W'), ("TA105:023", 1, 0, 'E')]),
    ("x12types_inline/test_940_validation_failures_L270.edi", 1, 0, 0, &[("TA105:006", 1, 35, 'W'), ("TA105:023", 1, 0, 'E')]),
    ("x12types_inline/test_940_validation_failures_L272.edi", 1, 0, 0, &[("TA105:006", 1, 35, 'W'), ("TA105:023", 1, 0, 'E')]),
    ("x12types_inline/test_940_validation_failures_L274.edi", 1, 0, 0, &[("TA105:014", 1, 70, 'E'), ("TA105:023", 1, 0, 'E')]),
    ("x12types_inline/test_940_validation_failures_L276.edi", 1, 0, 0, &[("TA105:014", 1, 70, 'E'), ("TA105:023", 1, 0, 'E')]),
    ("x12types_inline/test_940_validation_failures_L278.edi", 1, 0, 0, &[("TA105:015", 1, 77, 'E'), ("TA105:023", 1, 0, 'E')]),
    ("x12types_inline/test_940_validation_failures_L280.edi", 1, 0, 0, &[("TA105:015", 1, 77, 'E'), ("TA105:023", 1, 0, 'E')]),
    ("x12types_inline/test_940_validation_failures_L282.edi", 1, 0, 0, &[("TA105:017", 1, 84, 'E'), ("TA105:023", 1, 0, 'E')]),
    ("x12types_inline/test_940_validation_failures_L284.edi", 1, 0, 0, &[("TA105:017", 1, 84, 'E'), ("TA105:023", 1, 0, 'E')]),
    ("x12types_inline/test_940_validation_failures_L286.edi", 1, 0, 0, &[("TA105:018", 1, 90, 'E'), ("TA105:023", 1, 0, 'E')]),
    ("x12types_inline/test_940_validation_failures_L288.edi", 1, 0, 0, &[("TA105:018", 1, 90, 'E'), ("TA105:023", 1, 0, 'E')]),
    ("x12types_inline/test_940_validation_failures_L290.edi", 0, 0, 0, &[("TA105:027", 1, 104, 'E')]),
    ("x12types_inline/test_945_parse_1_L384.edi", 1, 1, 1, &[("TA105:011", 1, 7, 'W'), ("TA105:013", 1, 12, 'W'), ("TA105:006", 1, 17, 'W'), ("TA105:008", 1, 34, 'W'), ("AK502:4", 18, 473, 'E')]),
    ("x12types_inline/test_945_parse_2_L410.edi", 1, 1, 1, &[("TA105:011", 1, 7, 'W'), ("TA105:013", 1, 12, 'W'), ("TA105:006", 1, 17, 'W'), ("TA105:008", 1, 26, 'W'), ("AK502:4", 18, 473, 'E')]),
    ("x12types_inline/test_997_1_L10.edi", 1, 1, 1, &[("TA105:022", 1, 0, 'E'), ("TA105:024", 1, 0, 'E')]),
    ("x12types_inline/test_997_2_L29.edi", 1, 1, 1, &[("TA105:022", 1, 0, 'E'), ("TA105:024", 1, 0, 'E')]),
    ("x12types_inline/test_997_3_L46.edi", 1, 1, 2, &[("TA105:022", 1, 0, 'E'), ("TA105:024", 1, 0, 'E')]),
    ("x12types_inline/test_997_4_L67.edi", 1, 1, 1, &[("TA105:022", 1, 0, 'E'), ("TA105:024", 1, 0, 'E')]),
    ("x12types_inline/test_parse_856_L28.edi", 1, 1, 1, &[("TA105:011", 1, 7, 'W'), ("TA105:013", 1, 12, 'W'), ("TA105:006", 1, 17, 'W'), ("TA105:008", 1, 28, 'W'), ("AK502:4", 20, 489, 'E')]),
    ("x12types_inline/v005010_180_SAMPLE_ST-only.edi", 1, 1, 1, &[("TA105:022", 1, 0, 'E'), ("TA105:024", 1, 0, 'E')]),
    ("x12types_inline/v005010_180_full_transmission.edi", 1, 1, 1, &[("AK502:4", 7, 215, 'E')]),
    ("x12types_inline/v005010_832_SAMPLE_ST-only_single-line.edi", 1, 1, 1, &[("TA105:022", 1, 0, 'E'), ("TA105:024", 1, 0, 'E')]),
    ("x12types_inline/v005010_832_full_transmission.edi", 1, 1, 1, &[("AK502:4", 6, 178, 'E')]),
    ("x12types_inline/v005010_846_SAMPLE_ST-only.edi", 1, 1, 1, &[("TA105:022", 1, 0, 'E'), ("TA105:024", 1, 0, 'E')]),
    ("x12types_inline/v005010_846_full_transmission.edi", 1, 1, 1, &[]),
];

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/x12")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_fixture_has_the_envelopes_and_problems_it_really_has() {
    let mut failures = Vec::new();
    for (name, ics, groups, sets, problems) in SAMPLES {
        let bytes = fixture(name);
        let parsed = x12::parse(&bytes);
        let got_groups: usize = parsed.interchanges.iter().map(|i| i.groups.len()).sum();
        let got = (parsed.interchanges.len(), got_groups, parsed.sets().count());
        if got != (*ics, *groups, *sets) {
            failures.push(format!(
                "{name}: counts {got:?}, expected {:?}",
                (ics, groups, sets)
            ));
        }
        let got_problems: Vec<(String, u32, usize, char)> = parsed
            .problems
            .iter()
            .map(|p| {
                let sev = if p.severity == Severity::Warning {
                    'W'
                } else {
                    'E'
                };
                (p.code.label(), p.at.segment, p.at.offset, sev)
            })
            .collect();
        let want: Vec<(String, u32, usize, char)> = problems
            .iter()
            .map(|(c, s, o, v)| (c.to_string(), *s, *o, *v))
            .collect();
        if got_problems != want {
            failures.push(format!(
                "{name}: problems {got_problems:?}, expected {want:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_table_lists_every_fixture_and_every_fixture_has_provenance() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let provenance = std::fs::read_to_string(root.join("PROVENANCE.tsv")).expect("provenance");
    let mut on_disk = Vec::new();
    for dir in ["x12", "x12/x12types_inline"] {
        for entry in std::fs::read_dir(root.join(dir))
            .expect("fixture dir")
            .flatten()
        {
            if entry.path().is_file() {
                let name = entry
                    .path()
                    .strip_prefix(root.join("x12"))
                    .expect("prefix")
                    .display()
                    .to_string();
                on_disk.push(name);
            }
        }
    }
    on_disk.sort();
    let mut listed: Vec<String> = SAMPLES.iter().map(|r| r.0.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
    for name in &listed {
        assert!(
            provenance.contains(&format!("x12/{name}\t")),
            "{name} has no PROVENANCE.tsv row"
        );
    }
}

#[test]
fn problems_name_their_envelopes_and_become_issues() {
    let bytes = fixture("ediEngine_ControlNumbersMismatch.edi");
    let parsed = x12::parse(&bytes);
    let se = &parsed.problems[0];
    assert_eq!(se.code, x12::codes::AK5_CONTROL_MISMATCH);
    assert_eq!(
        se.interchange.as_ref().map(|c| c.control.as_str()),
        Some("000003438")
    );
    assert_eq!(se.group.as_ref().map(|c| c.control.as_str()), Some("3314"));
    assert_eq!(
        se.set.as_ref().map(|c| (c.index, c.control.as_str())),
        Some((1, "0001"))
    );
    let issues = x12::to_issues("cnm.edi", &bytes, &parsed.problems);
    assert_eq!(issues[0].line, Some(7), "SE is on the 7th physical line");
    assert_eq!(issues[0].column.as_deref(), Some("SE02"));
    assert_eq!(issues[0].value.as_deref(), Some("0002"));
    assert_eq!(issues[0].rule, "x12-envelope:AK502:3");
    assert_eq!(issues[2].rule, "x12-envelope:TA105:001");
}

#[test]
fn separators_come_from_each_isa() {
    // (file, interchange index, element, component, repetition, terminator)
    type Case = (&'static str, usize, u8, Option<u8>, Option<u8>, u8);
    let cases: &[Case] = &[
        ("ediEngine_850.OK.edi", 0, b'*', Some(b'>'), None, b'\n'),
        ("ediNet_x12.850.issue135.edi", 0, b'*', None, None, b'~'),
        (
            "stupidedi_002001_SH856_fail_1.edi",
            0,
            b'*',
            Some(b'@'),
            None,
            b'!',
        ),
        (
            "stupidedi_004010_SH856_fail_2.edi",
            0,
            b'*',
            Some(b'{'),
            None,
            b'$',
        ),
        (
            "stupidedi_004010_FA997_pass_1.edi",
            0,
            b'*',
            Some(b'`'),
            None,
            b'\n',
        ),
        ("nodex12_856.edi", 0, b'*', Some(b'>'), Some(b'-'), b'~'),
        ("x12types_005010_824.edi", 0, b'*', Some(b'>'), None, b'~'),
        (
            "x12types_inline/parse_850_1_L6.edi",
            0,
            b'*',
            Some(b':'),
            Some(b'|'),
            b'~',
        ),
        (
            "x12types_inline/test_940_1_L7.edi",
            0,
            b'*',
            Some(b'\\'),
            None,
            b'~',
        ),
    ];
    for (name, i, e, c, r, t) in cases {
        let bytes = fixture(name);
        let parsed = x12::parse(&bytes);
        let s = parsed.interchanges[*i].separators;
        assert_eq!(
            (s.element, s.component, s.repetition, s.segment),
            (*e, *c, *r, *t),
            "{name}"
        );
    }
    // BOM, NBSP padding and tab indentation: ediNet files parse with the right sender.
    let bytes = fixture("ediNet_x12.850.edi");
    let parsed = x12::parse(&bytes);
    assert!(parsed.bom);
    assert_eq!(parsed.interchanges[0].receiver, "PARTNERID");
}

#[test]
fn duplicate_control_numbers_are_found_in_file_and_against_the_ledger() {
    let bytes = fixture("ediEngine_MultipleInterchangesAndGroups.edi");
    let parsed = x12::parse(&bytes);
    assert!(x12::duplicate_interchanges(&parsed, |_, _| false).is_empty());
    let ledger = x12::duplicate_interchanges(&parsed, |sender, control| {
        sender == "ZZ:ABCDEFGHIJKLMNO" && control == "000003438"
    });
    let at: Vec<_> = ledger
        .iter()
        .map(|p| (p.code.label(), p.interchange.clone().map(|c| c.index)))
        .collect();
    assert_eq!(at, vec![("TA105:025".to_string(), Some(1))]);
    // The same two interchanges twice in one file: the second copies are duplicates.
    let twice = [bytes.clone(), b"\n".to_vec(), bytes].concat();
    let parsed = x12::parse(&twice);
    let dups: Vec<_> = x12::duplicate_interchanges(&parsed, |_, _| false)
        .iter()
        .map(|p| p.interchange.clone().map(|c| c.index))
        .collect();
    assert_eq!(dups, vec![Some(3), Some(4)]);
    // A real sample repeats ISA13 000003438 from the same sender in its second interchange.
    let bytes = fixture("nodex12_850_fat.edi");
    let dups = x12::duplicate_interchanges(&x12::parse(&bytes), |_, _| false);
    assert_eq!(dups.len(), 1);
    assert_eq!(
        dups[0].at.segment,
        dups[0].at.segment.max(2),
        "the second ISA, not the first"
    );
    assert_eq!(dups[0].value.as_deref(), Some("000003438"));
}

#[test]
fn inspection_json_names_separators_envelopes_and_problems() {
    let json =
        serde_json::to_value(x12::inspect(&fixture("x12types_004010_310.edi"))).expect("json");
    assert_eq!(json["format"], "x12");
    assert_eq!(json["counts"]["sets"], 1);
    assert_eq!(json["counts"]["problems"], 4);
    let ic = &json["interchanges"][0];
    assert_eq!(ic["separators"]["segment"], "~");
    assert_eq!(ic["separators"]["component"], ">");
    assert_eq!(ic["control"], "000011566");
    assert_eq!(ic["groups"][0]["sets"][0]["segment_count"], 46);
    assert_eq!(ic["groups"][0]["sets"][0]["declared_segments"], "49");
    let p = &json["problems"][0];
    assert_eq!(p["code"], "AK502:4");
    assert_eq!(p["at"]["segment"], 48);
    assert_eq!(p["element"], "SE01");
    assert_eq!(p["set"]["control"], "35353");
    assert_eq!(json["problems"][3]["code"], "TA105:001");
}

#[test]
fn re_sliced_segments_agree_with_the_parse_for_every_fixture() {
    for (name, ..) in SAMPLES {
        let bytes = fixture(name);
        let parsed = x12::parse(&bytes);
        let indexes: Vec<u32> = parsed.segments().map(|s| s.index).collect();
        let expected: Vec<u32> = (1..=parsed.segment_count).collect();
        assert_eq!(indexes, expected, "{name}");
        for (_, _, set) in parsed.sets() {
            let segs: Vec<_> = parsed.set_segments(set).collect();
            assert_eq!(
                segs.len() as u32,
                set.segment_count,
                "{name} set {}",
                set.control
            );
            assert_eq!(
                segs.first().map(|s| s.id()),
                Some(b"ST".as_slice()),
                "{name}"
            );
            if set.trailer.is_some() {
                assert_eq!(
                    segs.last().map(|s| s.id()),
                    Some(b"SE".as_slice()),
                    "{name}"
                );
            }
        }
    }
}
