// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title BondingLedger
/// @notice The BondingManager's stake and earnings records and their arithmetic (contracts/README.md,
/// "BondingManager"): cumulative reward and fee factors per orchestrator, the stake counted in the current
/// round, and the factors at the end of a round in which stake was added, written lazily.
abstract contract BondingLedger {
    using SafeCast for uint256;

    /// @notice Initial value of an orchestrator's reward factor.
    uint256 public constant FACTOR_ONE = 1e24;

    struct Orchestrator {
        // slot 0: read on every fee credit
        bool registered;
        bool paramsSet; // parameters were set at least once
        uint24 rewardCut;
        uint24 feeShare;
        uint24 prevRewardCut;
        uint24 prevFeeShare;
        uint64 paramsRound; // first round of rewardCut/feeShare; earlier rounds use the prev values
        uint64 nextRewardRound; // last round reward() was called, plus one
        // slot 1: read on every fee credit
        uint96 stake; // all stake delegated to this orchestrator, its own included: counted from next round
        uint160 rewardFactor;
        // slot 2: written on every fee credit
        uint256 feeFactor;
        // slot 3: written on every fee credit
        uint96 counted; // stake sharing the earnings of round `round` (bonded at its start, rewards included)
        uint64 round; // last round the stake or the factors changed
        bool increased; // stake was added in `round`; its holders settle with the factors of the round's end
        bool moved; // the factors changed after that addition: the round's end factors must be written
        uint80 ownerFees; // the orchestrator's cut of fees, withdrawable
        // slot 4: activity checkpoint
        uint96 activeStake; // stake if registered and stake >= minActiveStake, else zero
        uint96 startActiveStake; // activeStake at the start of round `activeRound`
        uint64 activeRound; // round of the last activeStake change
    }

    struct Delegator {
        address delegate;
        uint64 withdrawRound; // round the unbonding stake unlocks
        uint96 bonded; // as of the last settlement, `added` included
        uint160 rewardFactor; // delegate's rewardFactor at the last settlement
        uint256 feeFactor; // delegate's feeFactor at the last settlement
        uint128 fees; // settled, withdrawable wei
        uint128 unbonding; // unbonded tokens waiting for withdrawRound
        uint96 added; // stake bonded in round `addedRound`: earns from the next round
        uint64 addedRound;
    }

    /// @dev Factors of an orchestrator at the end of a round in which stake was added.
    struct Checkpoint {
        uint256 rewardFactor; // 1 until written (a sentinel: a real reward factor is at least FACTOR_ONE)
        uint256 feeFactor;
    }

    mapping(address => Orchestrator) internal _orchestrators;
    mapping(address => Delegator) internal _delegators;
    mapping(address => mapping(uint256 => Checkpoint)) internal _checkpoints;

    /// @dev The current round.
    function _currentRound() internal view virtual returns (uint256);

    /// @dev A delegator's bonded stake and new fees brought up to date with its delegate's factors, and the
    /// snapshot to store. Stake added in round `addedRound` does not earn in that round: once the round is
    /// over, the stake counted in it is settled up to the round's end factors, and from there on all of it.
    function _earnings(Delegator storage d)
        internal
        view
        returns (uint256 bonded, uint256 fees, uint256 rf, uint256 ff, uint256 added)
    {
        address delegate = d.delegate;
        Orchestrator storage o = _orchestrators[delegate];
        bonded = d.bonded;
        if (bonded == 0) return (0, 0, o.rewardFactor, o.feeFactor, 0);
        rf = d.rewardFactor;
        ff = d.feeFactor;
        added = d.added;
        if (added != 0) {
            uint256 addedRound = d.addedRound;
            if (addedRound != _currentRound()) {
                uint256 endRf = o.rewardFactor;
                uint256 endFf = o.feeFactor;
                if (o.round != addedRound) {
                    // Not written: the factors did not change after the round's first addition, so they
                    // are the ones of this snapshot, taken at or after that addition.
                    Checkpoint storage c = _checkpoints[delegate][addedRound];
                    (endRf, endFf) = c.rewardFactor > 1 ? (c.rewardFactor, c.feeFactor) : (rf, ff);
                }
                uint256 before = bonded - added;
                fees = Math.mulDiv(before, endFf - ff, rf);
                bonded = Math.mulDiv(before, endRf, rf) + added;
                (rf, ff, added) = (endRf, endFf, 0);
            }
        }
        uint256 counted = bonded - added;
        fees += Math.mulDiv(counted, o.feeFactor - ff, rf);
        bonded = Math.mulDiv(counted, o.rewardFactor, rf) + added;
        rf = o.rewardFactor;
        ff = o.feeFactor;
    }

    /// @dev Starts round `round` for an orchestrator at its first change in that round: all its stake
    /// counts from now on, and the end factors of its last round are written if stake added in that round
    /// needs them (the slot was pre-written by that addition, so this write is never a fresh slot).
    function _roll(address orch, Orchestrator storage o, uint256 round) internal {
        uint256 last = o.round;
        if (last == round) return;
        if (o.moved) {
            Checkpoint storage c = _checkpoints[orch][last];
            c.rewardFactor = o.rewardFactor;
            c.feeFactor = o.feeFactor;
            o.moved = false;
        }
        o.counted = o.stake;
        o.round = uint64(round);
        o.increased = false;
    }

    /// @dev Adds `amount` of a settled delegator's stake to `orch`, earning from the next round on.
    function _addStake(
        address orch,
        Orchestrator storage o,
        Delegator storage d,
        uint256 amount,
        uint256 round
    ) internal {
        if (amount == 0) return;
        _roll(orch, o, round);
        if (!o.increased) {
            o.increased = true;
            // Pre-write the slots of this round's end factors, so the write at the next round's first
            // change (a fee credit, often) costs a nonzero-to-nonzero write, not a fresh slot.
            Checkpoint storage c = _checkpoints[orch][round];
            c.rewardFactor = 1;
            c.feeFactor = 1;
        }
        d.added = (uint256(d.added) + amount).toUint96();
        d.addedRound = uint64(round);
        o.stake = (uint256(o.stake) + amount).toUint96();
    }

    /// @dev Removes `amount` of a settled delegator's stake from `orch` at once: what was added this round
    /// first, then stake counted this round, which stops earning.
    function _removeStake(
        address orch,
        Orchestrator storage o,
        Delegator storage d,
        uint256 amount,
        uint256 round
    ) internal {
        _roll(orch, o, round);
        uint256 added = d.added;
        if (amount > added) {
            uint256 counted = o.counted;
            uint256 removed = amount - added;
            // Rounding keeps every delegator's counted stake at or below its share, so this never clamps
            // by more than dust.
            o.counted = uint96(counted > removed ? counted - removed : 0);
            added = 0;
        } else {
            added -= amount;
        }
        d.added = uint96(added);
        o.stake -= uint96(amount);
    }
}
