//! Which waiting parts make the next output.
//!
//! The aggregator asks for one output at a time: the set of parts whose sizes add
//! up as close to `max_bytes` as possible without exceeding it. AB2D takes the
//! parts largest first and keeps each that still fits ([`greedy_select`]); that
//! wastes outputs (parts of 5, 4, 3, 3, 3 and 2 tenths of the cap fill two
//! outputs exactly, greedy makes three). [`select`] starts from the greedy answer
//! and improves it with a bounded branch-and-bound search over the sizes sorted
//! largest first, so it is never worse than greedy and usually exact; the search
//! is capped at [`SEARCH_BUDGET`] steps, so one selection costs O(n log n) for
//! the sort plus a constant.
//!
//! [`plan_all`] packs everything that is left when streaming closes, into no
//! more outputs than greedy would make.
//!
//! Parts of zero bytes always ride along with the next selection (they cost
//! nothing and must leave `finished/`). A part larger than `max_bytes` becomes an
//! output alone.

use std::cmp::Reverse;

/// Most steps the improving search may take for one selection.
pub const SEARCH_BUDGET: usize = 50_000;

/// The search decides only the last stretch of an output: the largest parts
/// are taken as greedy takes them while the room left after each is at least
/// this many times its size (every later part is smaller still). With tens of
/// thousands of small parts waiting, the search then works on a few dozen
/// decisions, not on tens of thousands, in time and memory alike.
pub const SEARCH_ROOM: u64 = 32;

/// Whether `waiting` bytes of one kind call for an output while the job runs:
/// strictly more than the trigger (`multiplier × max_bytes`), as upstream.
pub fn should_aggregate(waiting: u64, trigger: u64) -> bool {
    waiting > trigger
}

/// Indices (into `sizes`) of the parts for one output, in the order they go into it.
///
/// Empty input gives an empty selection. Every zero-size part is included.
pub fn select(sizes: &[u64], max_bytes: u64) -> Vec<usize> {
    let order = Sorted::new(sizes);
    if let Some(alone) = order.oversized(max_bytes) {
        return order.with_zeros(vec![alone]);
    }
    let picked = best_fit(&order.size, max_bytes);
    order.with_zeros(
        picked
            .into_iter()
            .map(|p| order.index[p] as usize)
            .collect(),
    )
}

/// AB2D's selection: parts largest first, each taken if it still fits; a part
/// larger than `max_bytes` goes alone. Kept as the baseline for tests and benches.
pub fn greedy_select(sizes: &[u64], max_bytes: u64) -> Vec<usize> {
    let order = Sorted::new(sizes);
    if let Some(alone) = order.oversized(max_bytes) {
        return order.with_zeros(vec![alone]);
    }
    let (picked, _) = greedy(&order.size, max_bytes);
    order.with_zeros(
        picked
            .into_iter()
            .map(|p| order.index[p] as usize)
            .collect(),
    )
}

/// Packs every part into outputs: repeated [`select`], unless repeated
/// [`greedy_select`] would need fewer outputs. Each inner vector is one output.
///
/// The parts are sorted once; each output is chosen from what is left, which
/// stays sorted. Greedy's packing is counted first and made only if it wins,
/// so that one plan at a time is held (tens of thousands of parts may wait).
pub fn plan_all(sizes: &[u64], max_bytes: u64) -> Vec<Vec<usize>> {
    let mut best = Vec::new();
    pack(sizes, max_bytes, best_fit, |group| best.push(group));
    let mut greedy_outputs = 0;
    pack(sizes, max_bytes, greedy_fit, |_| greedy_outputs += 1);
    if greedy_outputs < best.len() {
        best.clear();
        pack(sizes, max_bytes, greedy_fit, |group| best.push(group));
    }
    best
}

/// Repeated selections with `choose` (positions in sizes sorted descending),
/// each output given to `output`; zero-size parts go with the first.
fn pack(
    sizes: &[u64],
    max_bytes: u64,
    choose: fn(&[u64], u64) -> Vec<usize>,
    mut output: impl FnMut(Vec<usize>),
) {
    let Sorted {
        mut index,
        mut size,
        zeros,
    } = Sorted::new(sizes);
    let mut zeros = Some(zeros);
    while !size.is_empty() || zeros.as_ref().is_some_and(|z| !z.is_empty()) {
        let picked = if size.first().is_some_and(|&s| s > max_bytes) {
            vec![0]
        } else {
            choose(&size, max_bytes)
        };
        let mut group: Vec<usize> = picked.iter().map(|&p| index[p] as usize).collect();
        group.extend(zeros.take().into_iter().flatten().map(|i| i as usize));
        output(group);
        let mut taken = vec![false; size.len()];
        for p in picked {
            taken[p] = true;
        }
        retain_unpicked(&mut index, &taken);
        retain_unpicked(&mut size, &taken);
    }
}

/// Keeps the items of `items` whose flag in `taken` is false, in order.
pub(crate) fn retain_unpicked<T>(items: &mut Vec<T>, taken: &[bool]) {
    let mut flags = taken.iter();
    items.retain(|_| !flags.next().copied().unwrap_or(false));
}

/// Greedy's positions.
fn greedy_fit(size: &[u64], cap: u64) -> Vec<usize> {
    greedy(size, cap).0
}

/// Non-zero sizes, largest first, with their original indices (as `u32`:
/// tens of thousands of parts may wait, and this is their largest copy).
struct Sorted {
    /// Original index of each sorted position.
    index: Vec<u32>,
    /// Size at each sorted position (descending, all non-zero).
    size: Vec<u64>,
    /// Original indices of the zero-size parts.
    zeros: Vec<u32>,
}

impl Sorted {
    fn new(sizes: &[u64]) -> Self {
        let n = u32::try_from(sizes.len()).expect("fewer than 2³² parts wait");
        let (mut index, zeros): (Vec<u32>, Vec<u32>) = (0..n).partition(|&i| sizes[i as usize] > 0);
        index.sort_unstable_by_key(|&i| (Reverse(sizes[i as usize]), i));
        let size = index.iter().map(|&i| sizes[i as usize]).collect();
        Sorted { index, size, zeros }
    }

    fn oversized(&self, max_bytes: u64) -> Option<usize> {
        (self.size.first().copied()? > max_bytes).then(|| self.index[0] as usize)
    }

    fn with_zeros(&self, mut picked: Vec<usize>) -> Vec<usize> {
        picked.extend(self.zeros.iter().map(|&i| i as usize));
        picked
    }
}

/// Greedy for the largest parts, then the bounded search (see
/// [`SEARCH_ROOM`]), over sizes sorted descending. Returns positions.
fn best_fit(size: &[u64], cap: u64) -> Vec<usize> {
    let (mut fixed, mut taken) = (0, 0u64);
    while let Some(&next) = size.get(fixed) {
        if taken + next + SEARCH_ROOM.saturating_mul(next) > cap {
            break;
        }
        taken += next;
        fixed += 1;
    }
    let rest = search(&size[fixed..], cap - taken);
    (0..fixed)
        .chain(rest.into_iter().map(|p| p + fixed))
        .collect()
}

/// Largest-first pass over sizes sorted descending; returns the positions
/// taken and their sum.
fn greedy(size: &[u64], cap: u64) -> (Vec<usize>, u64) {
    let mut sum = 0u64;
    let mut picked = Vec::new();
    for (pos, &s) in size.iter().enumerate() {
        if s <= cap - sum {
            sum += s;
            picked.push(pos);
            if sum == cap {
                break;
            }
        }
    }
    (picked, sum)
}

/// Branch and bound over sizes sorted descending, seeded with the greedy
/// answer and capped at [`SEARCH_BUDGET`] steps. Returns positions.
fn search(s: &[u64], cap: u64) -> Vec<usize> {
    let n = s.len();
    let (mut best, mut best_sum) = greedy(s, cap);
    if best_sum == cap {
        return best;
    }
    // suffix[i] = sum of s[i..]: the most that positions i.. can add.
    let mut suffix = vec![0u64; n + 1];
    for i in (0..n).rev() {
        suffix[i] = suffix[i + 1].saturating_add(s[i]);
    }
    // One frame a depth: the level's first position and the next to try.
    struct Frame {
        start: usize,
        next: usize,
    }
    let mut frames = vec![Frame { start: 0, next: 0 }];
    let mut chosen: Vec<usize> = Vec::new();
    let mut sum = 0u64;
    let mut budget = SEARCH_BUDGET;
    'search: while let Some(frame) = frames.last_mut() {
        let mut pick = None;
        while frame.next < n {
            if budget == 0 {
                break 'search;
            }
            budget -= 1;
            let j = frame.next;
            if sum.saturating_add(suffix[j]) <= best_sum {
                frame.next = n; // nothing below can beat the best
                break;
            }
            let room = cap - sum;
            if s[j] > room {
                // Sizes descend: jump to the first one that fits.
                frame.next = j + s[j..].partition_point(|&x| x > room);
                continue;
            }
            frame.next = j + 1;
            if j > frame.start && s[j] == s[j - 1] {
                continue; // an equal sibling was tried already
            }
            pick = Some(j);
            break;
        }
        match pick {
            Some(j) => {
                chosen.push(j);
                sum += s[j];
                if sum > best_sum {
                    best_sum = sum;
                    best.clone_from(&chosen);
                    if best_sum == cap {
                        break 'search;
                    }
                }
                frames.push(Frame {
                    start: j + 1,
                    next: j + 1,
                });
            }
            None => {
                frames.pop();
                if let Some(j) = chosen.pop() {
                    sum -= s[j];
                }
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIB: u64 = 1 << 20;

    fn total(sizes: &[u64], picked: &[usize]) -> u64 {
        picked.iter().map(|&i| sizes[i]).sum()
    }

    /// No index is picked twice.
    fn each_once(picked: &[usize]) -> bool {
        let mut unique = picked.to_vec();
        unique.sort_unstable();
        unique.dedup();
        unique.len() == picked.len()
    }

    /// Outputs AB2D makes of everything: `greedy_select` over what is left,
    /// again and again.
    fn ab2d_outputs(sizes: &[u64], max: u64) -> usize {
        let mut left: Vec<u64> = sizes.to_vec();
        let mut outputs = 0;
        while !left.is_empty() {
            let mut chosen = greedy_select(&left, max);
            chosen.sort_unstable_by(|a, b| b.cmp(a));
            for c in chosen {
                left.swap_remove(c);
            }
            outputs += 1;
        }
        outputs
    }

    /// One case, run through every selection path.
    struct Case {
        name: &'static str,
        sizes: Vec<u64>,
        max: u64,
        /// Bytes of the best single output.
        best: u64,
        /// Outputs `plan_all` needs.
        outputs: usize,
    }

    fn cases() -> Vec<Case> {
        let unit = 104_857;
        vec![
            Case {
                name: "greedy wastes an output",
                sizes: [5, 4, 3, 3, 3, 2].iter().map(|u| u * unit).collect(),
                max: MIB,
                best: 10 * unit,
                outputs: 2,
            },
            Case {
                name: "empty",
                sizes: vec![],
                max: MIB,
                best: 0,
                outputs: 0,
            },
            Case {
                name: "only empty parts",
                sizes: vec![0, 0],
                max: 10,
                best: 0,
                outputs: 1,
            },
            Case {
                name: "exactly max",
                sizes: vec![10, 3],
                max: 10,
                best: 10,
                outputs: 2,
            },
            Case {
                name: "oversized goes alone",
                sizes: vec![3, 25, 4],
                max: 10,
                best: 25,
                outputs: 2,
            },
            Case {
                name: "all fit",
                sizes: vec![1, 2, 3],
                max: 10,
                best: 6,
                outputs: 1,
            },
            Case {
                name: "caps over 4 GiB",
                sizes: vec![3 << 30, 2 << 30, 1 << 30, 1],
                max: 4096 * MIB,
                best: 4 << 30,
                outputs: 2,
            },
        ]
    }

    #[test]
    fn table_through_every_path() {
        for case in cases() {
            let picked = select(&case.sizes, case.max);
            assert_eq!(
                total(&case.sizes, &picked),
                case.best,
                "{}: select",
                case.name
            );
            let greedy = greedy_select(&case.sizes, case.max);
            assert!(
                total(&case.sizes, &greedy) <= case.best,
                "{}: greedy",
                case.name
            );
            let plan = plan_all(&case.sizes, case.max);
            assert_eq!(plan.len(), case.outputs, "{}: plan_all", case.name);
            let mut seen: Vec<usize> = plan.concat();
            seen.sort_unstable();
            assert_eq!(
                seen,
                (0..case.sizes.len()).collect::<Vec<_>>(),
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn ab2d_greedy_makes_three_where_two_suffice() {
        let unit = 104_857;
        let sizes: Vec<u64> = [5, 4, 3, 3, 3, 2].iter().map(|u| u * unit).collect();
        assert_eq!(ab2d_outputs(&sizes, MIB), 3);
        assert_eq!(plan_all(&sizes, MIB).len(), 2);
    }

    #[test]
    fn trigger_is_strictly_greater() {
        assert!(!should_aggregate(2 * MIB, 2 * MIB));
        assert!(should_aggregate(2 * MIB + 1, 2 * MIB));
        assert!(!should_aggregate(0, 0));
    }

    #[test]
    fn large_inputs_stay_cheap() {
        let sizes: Vec<u64> = (0..100_000u64)
            .map(|i| 1_000 + (i * 7919) % 9_000)
            .collect();
        let picked = select(&sizes, 200 * MIB);
        let fill = total(&sizes, &picked);
        assert!(fill <= 200 * MIB && fill > 200 * MIB - 1_000, "fill {fill}");
    }

    proptest! {
        #[test]
        fn selections_are_sound_and_no_worse_than_greedy(
            sizes in proptest::collection::vec(0u64..2_000, 0..60),
            max in 1u64..3_000,
        ) {
            let picked = select(&sizes, max);
            prop_assert!(each_once(&picked), "a part picked twice");
            let fill = total(&sizes, &picked);
            let nonzero = picked.iter().filter(|&&i| sizes[i] > 0).count();
            prop_assert!(fill <= max || nonzero == 1, "over max with {} parts", nonzero);
            prop_assert!(fill >= total(&sizes, &greedy_select(&sizes, max)));
            prop_assert_eq!(
                picked.len() - nonzero,
                sizes.iter().filter(|&&s| s == 0).count(),
                "zero parts ride along"
            );

            let plan = plan_all(&sizes, max);
            let mut all: Vec<usize> = plan.concat();
            all.sort_unstable();
            prop_assert_eq!(all, (0..sizes.len()).collect::<Vec<_>>(), "lost or repeated");
            for output in &plan {
                let nonzero = output.iter().filter(|&&i| sizes[i] > 0).count();
                prop_assert!(total(&sizes, output) <= max || nonzero == 1);
            }
            prop_assert!(plan.len() <= ab2d_outputs(&sizes, max));
        }

        #[test]
        fn many_small_parts_fill_at_least_as_well_as_greedy(
            sizes in proptest::collection::vec(1u64..60, 0..3_000),
            max in 500u64..20_000,
        ) {
            // Parts this small relative to the output take the greedy prefix.
            let picked = select(&sizes, max);
            prop_assert!(each_once(&picked), "a part picked twice");
            let fill = total(&sizes, &picked);
            let all: u64 = sizes.iter().sum();
            let largest = sizes.iter().copied().max().unwrap_or(0);
            prop_assert!(fill <= max);
            prop_assert!(fill >= total(&sizes, &greedy_select(&sizes, max)));
            prop_assert!(fill + largest >= all.min(max), "fill {} of {}", fill, all.min(max));
        }

        #[test]
        fn small_instances_are_exact(
            sizes in proptest::collection::vec(1u64..100, 0..12),
            max in 1u64..300,
        ) {
            // Exhaustive optimum over every subset.
            let n = sizes.len();
            let mut optimum = 0;
            for mask in 0u32..(1 << n) {
                let sum: u64 = (0..n).filter(|b| mask & (1 << b) != 0).map(|b| sizes[b]).sum();
                if sum <= max { optimum = optimum.max(sum); }
            }
            let fill = total(&sizes, &select(&sizes, max));
            if sizes.iter().all(|&s| s <= max) {
                prop_assert_eq!(fill, optimum);
            }
        }
    }
}
