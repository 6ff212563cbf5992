// Accuracy measures of the anti-spam benchmark (bench/spam.mjs): false positives, false
// negatives and (1-ROCA)%, the area above the ROC curve that the TREC spam track reports
// (antispam.md §4). Exact, from every (score, class) pair: no binning, no interpolation.

/**
 * 1 − AUC, where AUC = P(a random spam scores above a random ham), a tie counting one half
 * (the Mann–Whitney statistic). Sorting once and walking groups of equal scores makes it
 * exact for scores with many ties (SpamAssassin prints one decimal, bogofilter saturates at 1).
 * @param {{score: number, spam: boolean}[]} items
 * @returns {number} in [0, 1]; NaN without both classes
 */
export function oneMinusRocArea(items) {
  const sorted = [...items].sort((a, b) => a.score - b.score);
  let hamBelow = 0; // ham strictly below the current group
  let wins = 0; // spam-above-ham pairs, ties as 0.5
  let nSpam = 0;
  let nHam = 0;
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    let hamHere = 0;
    let spamHere = 0;
    while (j < sorted.length && sorted[j].score === sorted[i].score) {
      if (sorted[j].spam) spamHere++;
      else hamHere++;
      j++;
    }
    wins += spamHere * hamBelow + 0.5 * spamHere * hamHere;
    hamBelow += hamHere;
    nSpam += spamHere;
    nHam += hamHere;
    i = j;
  }
  if (!nSpam || !nHam) return NaN;
  return 1 - wins / (nSpam * nHam);
}

/**
 * Counts and rates for one filter's results on the test half.
 * @param {{spam: boolean, verdict: string, score: number}[]} results  verdict "spam", "ham",
 *   or a middle class ("probable", "unsure") that is counted separately, never as spam
 */
export function summarize(results) {
  const ham = results.filter((r) => !r.spam);
  const spam = results.filter((r) => r.spam);
  const count = (arr, v) => arr.filter((r) => r.verdict === v).length;
  const fp = count(ham, "spam");
  const fn = spam.length - count(spam, "spam");
  return {
    nHam: ham.length,
    nSpam: spam.length,
    fp,
    fn,
    fpPct: (100 * fp) / ham.length,
    fnPct: (100 * fn) / spam.length,
    // messages in a middle class: counted as "not spam" for FP/FN (so a probable spam is a
    // false negative, a probable ham is not a false positive) and reported here
    middleHam: ham.filter((r) => r.verdict !== "spam" && r.verdict !== "ham").length,
    middleSpam: spam.filter((r) => r.verdict !== "spam" && r.verdict !== "ham").length,
    rocaPct: 100 * oneMinusRocArea(results),
  };
}

/** One-sided binomial tail P(X >= k) for X ~ Bin(n, 1/2), exactly (n is at most a few
 *  thousand: rule hits in one class of the corpus). */
export function binomialUpperTail(k, n) {
  if (k <= 0) return 1;
  if (k > n) return 0;
  // log C(n, i) − n·ln 2, summed from i = k to n
  let logC = 0; // log C(n, 0)
  let p = 0;
  for (let i = 0; i <= n; i++) {
    if (i > 0) logC += Math.log(n - i + 1) - Math.log(i);
    if (i >= k) p += Math.exp(logC - n * Math.LN2);
  }
  return Math.min(1, p);
}
