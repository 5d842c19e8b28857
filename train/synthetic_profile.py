"""Numbers that make the generator PaySim-like: published totals and shapes of real rows.

Counts come from the full Kaggle PaySim file (6,362,620 rows, 8,213 frauds). Distribution shapes
(quantile knots of log10 amounts and balances, bookkeeping-pattern shares) were measured once on
real PaySim rows (``python -m research.compare_real`` re-checks them; see docs/generator.md). Only
aggregate shapes are kept here, no rows.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from service.schema import TRANSACTION_TYPES

CASH_IN, CASH_OUT, DEBIT, PAYMENT, TRANSFER = range(len(TRANSACTION_TYPES))

#: PaySim simulates 30 days plus 1 step: 744 hourly steps.
N_STEPS: Final = 744

#: Fraud rows / all rows in the full file (8,213 / 6,362,620).
FRAUD_ROW_RATE: Final = 8_213 / 6_362_620

#: Legitimate rows per type in the full file, in TRANSACTION_TYPES order.
LEGIT_COUNTS: Final = np.array([1_399_284, 2_233_384, 41_432, 2_151_495, 528_812], dtype=float)
LEGIT_MIX: Final = LEGIT_COUNTS / LEGIT_COUNTS.sum()

#: Legitimate activity per hour of day (hour = step mod 24), relative to the 19:00 peak.
HOUR_PROFILE: Final = np.array(
    [
        *(0.14, 0.04, 0.01, 0.003, 0.003, 0.003, 0.003, 0.003, 0.003, 0.38, 0.65, 0.71),
        *(0.73, 0.70, 0.63, 0.61, 0.63, 0.67, 0.84, 1.00, 0.80, 0.60, 0.60, 0.54),
    ]
)
#: Real PaySim activity drops sharply after the 17th day; frauds keep their pace.
QUIET_FROM_STEP: Final = 409
QUIET_FACTOR: Final = 0.085
#: Day-to-day variation of legitimate volume (sigma of a log-normal factor).
DAY_SIGMA: Final = 0.25

#: Probabilities at which the quantile knots below are given.
KNOT_P: Final = np.array([0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1])

#: log10(amount) quantile knots of legitimate rows, per type.
AMOUNT_LOG10: Final = np.array(
    [
        [0.10, 2.59, 3.51, 4.22, 4.51, 4.90, 5.19, 5.40, 5.55, 5.63, 5.76, 5.90, 6.09],
        [1.07, 2.56, 3.50, 4.20, 4.49, 4.87, 5.18, 5.41, 5.57, 5.65, 5.78, 5.90, 6.10],
        [1.26, 1.31, 1.79, 2.42, 2.70, 3.12, 3.45, 3.69, 3.92, 4.06, 4.94, 5.15, 5.17],
        [-0.62, 1.10, 2.20, 2.91, 3.21, 3.60, 3.93, 4.19, 4.40, 4.52, 4.72, 4.91, 5.18],
        [2.26, 3.08, 3.97, 4.64, 4.95, 5.35, 5.71, 6.02, 6.26, 6.39, 6.76, 7.18, 7.84],
    ]
)

#: Share of legitimate rows whose origin account shows a zero old balance, per type.
ORIG_ZERO: Final = np.array([0.0119, 0.476, 0.149, 0.323, 0.515])

#: log10(oldbalanceOrg) quantile knots of legitimate rows with a positive balance, per type.
ORIG_LOG10: Final = np.array(
    [
        [0.00, 1.32, 2.18, 3.18, 4.02, 4.70, 6.19, 6.75, 6.99, 7.16, 7.38, 7.47, 7.58],
        [0.00, 0.90, 2.00, 2.48, 3.00, 4.02, 4.48, 5.00, 5.45, 5.68, 6.12, 6.59, 6.92],
        [0.95, 1.14, 1.93, 2.48, 2.99, 4.03, 4.47, 4.94, 5.34, 5.55, 5.83, 6.17, 6.51],
        [0.00, 1.02, 2.02, 2.60, 3.20, 4.06, 4.58, 5.09, 5.50, 5.71, 6.13, 6.66, 7.01],
        [0.60, 1.18, 2.01, 2.46, 3.02, 4.02, 4.49, 5.02, 5.47, 5.71, 6.23, 6.72, 6.91],
    ]
)

#: log10(oldbalanceDest) knots for non-merchant destinations with a positive balance (PAYMENT
#: goes to merchants, whose balances PaySim leaves at zero).
DEST_LOG10: Final = np.array(
    [
        [-0.43, 2.05, 3.62, 4.50, 4.90, 5.38, 5.80, 6.24, 6.62, 6.86, 7.18, 7.48, 8.11],
        [0.30, 2.03, 3.30, 4.35, 4.79, 5.34, 5.78, 6.22, 6.61, 6.82, 7.15, 7.46, 8.32],
        [3.00, 3.10, 3.59, 4.02, 4.22, 4.77, 5.44, 6.06, 6.51, 6.77, 7.03, 7.32, 7.35],
        [0.0] * 13,
        [0.30, 2.06, 3.26, 4.33, 4.81, 5.55, 6.08, 6.47, 6.82, 7.01, 7.30, 7.71, 8.22],
    ]
)

#: Destination bookkeeping patterns of legitimate rows, per type (rows sum to 1):
#: zero before and after / zero before, positive after / exact (old +- amount) /
#: emptied (positive before, zero after) / drift (moved by other activity within the step).
DEST_ZERO_ZERO, DEST_ZERO_POS, DEST_EXACT, DEST_EMPTIED, DEST_DRIFT = range(5)
DEST_PATTERN: Final = np.array(
    [
        [0.099, 0.009, 0.567, 0.074, 0.251],
        [0.003, 0.124, 0.570, 0.022, 0.281],
        [0.000, 0.000, 0.691, 0.061, 0.248],
        [1.000, 0.000, 0.000, 0.000, 0.000],
        [0.001, 0.110, 0.549, 0.014, 0.326],
    ]
)
#: Sign of the destination's balance change in the exact pattern (CASH_IN pays out of it).
DEST_SIGN: Final = np.array([-1.0, 1.0, 1.0, 0.0, 1.0])

#: log10(newbalanceDest / amount) knots for the zero-before, positive-after pattern.
DEST_ZERO_POS_LOG10: Final = np.array(
    [
        [-2.12, -2.05, -1.61, -0.96, -0.61, -0.23, 0.23, 0.70, 1.20, 1.44, 2.12, 2.20, 2.20],
        [-2.48, -1.92, -0.86, -0.13, 0.00, 0.00, 0.00, 0.00, 0.19, 0.41, 1.06, 1.79, 2.84],
        [0.0] * 13,
        [0.0] * 13,
        [-1.60, -1.55, -0.71, -0.12, 0.00, 0.00, 0.00, 0.00, 0.17, 0.31, 0.93, 1.55, 4.24],
    ]
)

#: Signed-log knots, s = sign(r) * log10(1 + |r|), of r = (newbalanceDest - oldbalanceDest) /
#: amount in the drift pattern.
DEST_DRIFT_SLOG: Final = np.array(
    [
        [-2.56, -2.09, -1.27, -0.72, -0.56, -0.35, -0.04, 0.53, 1.01, 1.33, 2.01, 3.07, 4.18],
        [-3.02, -1.89, -1.06, -0.50, -0.25, 0.21, 0.46, 0.75, 1.12, 1.40, 2.04, 3.01, 4.83],
        [-3.25, -3.25, -2.76, -2.23, -1.86, -1.00, 1.05, 1.99, 2.64, 2.98, 3.67, 4.09, 4.12],
        [0.0] * 13,
        [-2.69, -1.59, -0.68, -0.12, 0.10, 0.28, 0.37, 0.53, 0.81, 1.02, 1.54, 2.24, 2.46],
    ]
)

#: log10 knots of a fraud TRANSFER's amount below the cap: the victim's whole balance, or what is
#: left of it after full 10,000,000 transfers.
FRAUD_REMAINDER_LOG10: Final = np.array(
    [2.08, 2.32, 3.49, 4.31, 4.63, 5.12, 5.64, 6.15, 6.54, 6.76, 6.93, 6.99, 7.0]
)
#: Chance of one more full 10,000,000 transfer (geometric): 3.7% of real fraud TRANSFERs are capped.
FRAUD_EXTRA_CHUNK_P: Final = 0.0367
#: PaySim moves at most this much per transaction; larger balances take several transfers.
TRANSFER_CAP: Final = 10_000_000.0
#: Fraud TRANSFERs whose mule account shows ordinary balances instead of 0 before and after.
FRAUD_DEST_VISIBLE: Final = 0.005
#: The mule's CASH_OUT: share with a zero destination balance before; share with exact bookkeeping.
FRAUD_CASHOUT_DEST_ZERO: Final = 0.31
FRAUD_CASHOUT_DEST_EXACT: Final = 0.96
#: isFlaggedFraud: PaySim's rule flags (and halts) TRANSFERs above this amount, sparsely.
FLAG_AMOUNT: Final = 200_000.0
FLAG_RATE: Final = 0.0053
