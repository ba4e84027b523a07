//! Row numbers by 64-bit key hash (the hashes themselves: `frame::key_hashes`): the pairing of two sides' rows when each hash occurs once on its side (reconcile: the keys are
//! each side's primary key), one table of ERP row numbers probed by the partner rows: a third
//! of the time of polars' general full join on the 5M-row bench, which stays the path for
//! repeated hashes. Pure.

use crate::parallel::{cores, on_each_core};
use hashbrown::hash_table::Entry;
use hashbrown::HashTable;
use polars::prelude::{IdxCa, IdxSize, NewChunkedArray, PlSmallStr};

/// No row on that side.
const NONE: IdxSize = IdxSize::MAX;

/// Row numbers by hash, split over one table per core by a few bits of the hash.
struct RowTables {
    tables: Vec<HashTable<IdxSize>>,
}

impl RowTables {
    /// The table of `hashes` (rows marked in `skip` left out), built one share per core at
    /// once; `None` when a hash occurs twice.
    fn of_distinct(hashes: &[u64], skip: Option<&[bool]>) -> Option<RowTables> {
        let parts = cores();
        let build = |t: usize| -> Option<HashTable<IdxSize>> {
            let mut table = HashTable::with_capacity(hashes.len() / parts + 1);
            for (j, &h) in hashes.iter().enumerate() {
                if part(h, parts) != t || skip.is_some_and(|s| s[j]) {
                    continue;
                }
                match table.entry(h, |&r| hashes[r as usize] == h, |&r| hashes[r as usize]) {
                    Entry::Occupied(_) => return None,
                    Entry::Vacant(v) => {
                        v.insert(j as IdxSize);
                    }
                }
            }
            Some(table)
        };
        let tables = on_each_core(parts, build)
            .into_iter()
            .collect::<Option<_>>()?;
        Some(RowTables { tables })
    }

    /// The row whose hash is `h` (`hashes` as given to `of_distinct`).
    fn find(&self, h: u64, hashes: &[u64]) -> Option<IdxSize> {
        self.tables[part(h, self.tables.len())]
            .find(h, |&r| hashes[r as usize] == h)
            .copied()
    }
}

/// The table a hash belongs to: bits hashbrown uses neither for the bucket nor for the tag of
/// tables this size.
fn part(h: u64, parts: usize) -> usize {
    ((h >> 40) as usize) % parts
}

/// Pairs the rows of a full outer join on `partner` and `erp` hashes (rows marked in `*_skip`
/// take no part), in a fixed order: every partner row in order with its ERP row or none, then
/// the ERP rows no partner row took, in order. `None` when a hash repeats on a side (a
/// duplicate key or two keys sharing a hash): the general join handles that.
pub fn pair_unique_hashes(
    partner: &[u64],
    partner_skip: Option<&[bool]>,
    erp: &[u64],
    erp_skip: Option<&[bool]>,
) -> Option<(Vec<IdxSize>, Vec<IdxSize>)> {
    let skipped = |skip: Option<&[bool]>, i: usize| skip.is_some_and(|s| s[i]);
    let tables = RowTables::of_distinct(erp, erp_skip)?;
    let parts = cores();
    // The probe is read-only: each core takes its share of the partner rows.
    let probe = |t: usize| -> Vec<IdxSize> {
        let share = partner.len().div_ceil(parts);
        let rows = (t * share).min(partner.len())..((t + 1) * share).min(partner.len());
        rows.filter(|&i| !skipped(partner_skip, i))
            .map(|i| tables.find(partner[i], erp).unwrap_or(NONE))
            .collect()
    };
    let mut erp_rows: Vec<IdxSize> = Vec::with_capacity(partner.len() + erp.len() / 64);
    for share in on_each_core(parts, probe) {
        erp_rows.extend(share);
    }
    drop(tables);
    let mut partner_rows: Vec<IdxSize> = (0..partner.len() as IdxSize)
        .filter(|&i| !skipped(partner_skip, i as usize))
        .collect();
    // An ERP row taken twice means two partner rows share a hash.
    let mut taken = vec![false; erp.len()];
    for &j in &erp_rows {
        if j != NONE {
            if taken[j as usize] {
                return None;
            }
            taken[j as usize] = true;
        }
    }
    for (j, t) in taken.iter().enumerate() {
        if !t && !skipped(erp_skip, j) {
            partner_rows.push(NONE);
            erp_rows.push(j as IdxSize);
        }
    }
    Some((partner_rows, erp_rows))
}

/// Row numbers as a column, `NONE` as null.
pub fn rows_column(name: &str, rows: &[IdxSize]) -> IdxCa {
    IdxCa::from_iter_options(
        PlSmallStr::from(name),
        rows.iter().map(|&r| (r != NONE).then_some(r)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: IdxSize = NONE;

    /// (partner hashes, partner skip, erp hashes, erp skip, expected pairs or None).
    type Case = (
        &'static [u64],
        &'static [bool],
        &'static [u64],
        &'static [bool],
        Option<(&'static [IdxSize], &'static [IdxSize])>,
    );

    const CASES: &[Case] = &[
        // Partner order, then the ERP rows nobody took in ERP order.
        (
            &[30, 10, 20],
            &[],
            &[20, 40, 30, 50],
            &[],
            Some((&[0, 1, 2, N, N], &[2, N, 0, 1, 3])),
        ),
        // Skipped rows take no part on either side.
        (
            &[10, 20],
            &[true, false],
            &[20, 10],
            &[false, true],
            Some((&[1], &[0])),
        ),
        (&[], &[], &[7], &[], Some((&[N], &[0]))),
        (&[7], &[], &[], &[], Some((&[0], &[N]))),
        // A hash twice on the ERP side, or two partner rows on one ERP row: the general join.
        (&[1], &[], &[5, 5], &[], None),
        (&[5, 5], &[], &[5], &[], None),
        // Twice on the partner side with no ERP row is harmless: both are unpaired.
        (&[5, 5], &[], &[6], &[], Some((&[0, 1, N], &[N, N, 0]))),
        // A repeated ERP hash that is skipped does not count.
        (&[5], &[], &[5, 5], &[false, true], Some((&[0], &[0]))),
    ];

    #[test]
    fn pairs_in_partner_then_erp_order() {
        for (i, (p, ps, e, es, want)) in CASES.iter().enumerate() {
            let skip = |s: &'static [bool]| (!s.is_empty()).then_some(s);
            let got = pair_unique_hashes(p, skip(ps), e, skip(es));
            let want = want.map(|(a, b)| (a.to_vec(), b.to_vec()));
            assert_eq!(got, want, "case {i}");
        }
    }

    #[test]
    fn none_becomes_null() {
        let c = rows_column("r", &[3, NONE, 0]);
        assert_eq!(c.iter().collect::<Vec<_>>(), [Some(3), None, Some(0)]);
    }
}
