// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./base/Fixture.sol";
import {RoundsManager} from "../src/RoundsManager.sol";
import {StakeToken} from "../src/StakeToken.sol";
import {TicketBroker} from "../src/TicketBroker.sol";

contract RoundsManagerTest is Fixture {
    function test_constructor() public {
        vm.expectRevert(RoundsManager.ZeroRoundLength.selector);
        new RoundsManager(0);
        assertEq(rounds.roundLength(), ROUND_LENGTH);
    }

    function test_rounds() public {
        assertEq(rounds.currentRound(), 10);
        assertEq(rounds.currentRoundStartBlock(), 1000);
        assertTrue(rounds.currentRoundInitialized());
        assertEq(rounds.lastInitializedRound(), 10);
        assertEq(rounds.blockHashForRound(10), blockhash(999));
        assertTrue(rounds.blockHashForRound(10) != bytes32(0));

        vm.roll(1099);
        assertEq(rounds.currentRound(), 10);
        vm.roll(1150);
        assertEq(rounds.currentRound(), 11);
        assertEq(rounds.currentRoundStartBlock(), 1100);
        assertFalse(rounds.currentRoundInitialized());
        assertEq(rounds.blockHashForRound(11), bytes32(0));

        vm.expectEmit(address(rounds));
        emit RoundsManager.RoundInitialized(11, blockhash(1149));
        rounds.initializeRound();
        assertEq(rounds.lastInitializedRound(), 11);
        assertEq(rounds.blockHashForRound(11), blockhash(1149));
        vm.expectRevert(abi.encodeWithSelector(RoundsManager.RoundAlreadyInitialized.selector, 11));
        rounds.initializeRound();

        // Skipped rounds stay uninitialized.
        vm.roll(1500);
        rounds.initializeRound();
        assertEq(rounds.blockHashForRound(13), bytes32(0));
        assertEq(rounds.lastInitializedRound(), 15);
    }

    /// At block 0 there is no previous block: the round records a non-zero substitute instead of reverting.
    function test_initializeRound_atBlockZeroAndOne() public {
        vm.roll(0);
        RoundsManager fresh = new RoundsManager(ROUND_LENGTH);
        assertEq(fresh.currentRoundStartBlock(), 0);
        fresh.initializeRound();
        assertTrue(fresh.currentRoundInitialized());
        bytes32 substitute = keccak256(abi.encode(block.chainid, address(fresh), uint256(0)));
        assertEq(fresh.blockHashForRound(0), substitute);
        assertEq(fresh.lastInitializedRound(), 0);
        vm.expectRevert(abi.encodeWithSelector(RoundsManager.RoundAlreadyInitialized.selector, 0));
        fresh.initializeRound();

        // Round length 1: block 1 is round 1, whose previous block is block 0.
        RoundsManager perBlock = new RoundsManager(1);
        vm.roll(1);
        vm.setBlockhash(0, keccak256("block 0"));
        perBlock.initializeRound();
        assertEq(perBlock.blockHashForRound(1), keccak256("block 0"));
        // A chain that answers zero for the previous block's hash gets the substitute as well.
        vm.roll(2);
        vm.setBlockhash(1, bytes32(0));
        perBlock.initializeRound();
        assertEq(
            perBlock.blockHashForRound(2), keccak256(abi.encode(block.chainid, address(perBlock), uint256(2)))
        );
    }

    /// The whole payment path works from the first blocks of a chain.
    function test_paymentAtBlockZero() public {
        vm.roll(0);
        _deploy();
        rounds.initializeRound();
        _registerOnly(orch, 1000 ether, 0, 0);
        _fund(sender, 1 ether, 0);
        TicketBroker.Ticket memory t = _ticket(orch, sender, 0.01 ether, 1, 7);
        vm.roll(1);
        _redeem(t, _sign(SENDER_KEY, t), 7);
        assertTrue(broker.isTicketUsed(t));
        vm.prank(sender);
        broker.unlock();
        (,, uint256 withdrawRound) = _funds(sender);
        assertEq(withdrawRound, UNLOCK_PERIOD);
    }

    function testFuzz_currentRound(uint64 blockNumber) public {
        vm.roll(blockNumber);
        assertEq(rounds.currentRound(), uint256(blockNumber) / ROUND_LENGTH);
        assertEq(rounds.currentRoundStartBlock(), (uint256(blockNumber) / ROUND_LENGTH) * ROUND_LENGTH);
    }
}

contract StakeTokenTest is Fixture {
    function test_constructor() public {
        vm.expectRevert(StakeToken.ZeroAddress.selector);
        new StakeToken("a", "b", address(0), 1);
        assertEq(token.totalSupply(), SUPPLY);
        assertEq(token.balanceOf(address(this)), SUPPLY);
        assertEq(token.deployer(), address(this));
        assertEq(token.minter(), address(bonding));
        assertEq(token.decimals(), 18);
    }

    function test_setMinter() public {
        StakeToken t = new StakeToken("a", "b", address(this), 1);
        vm.expectRevert(StakeToken.ZeroAddress.selector);
        t.setMinter(address(0));
        vm.expectEmit(address(t));
        emit StakeToken.MinterSet(orch);
        t.setMinter(orch);
        vm.expectRevert(StakeToken.MinterAlreadySet.selector);
        t.setMinter(orch2);
    }

    function test_mint_and_burn() public {
        vm.prank(address(bonding));
        token.mint(orch, 5 ether);
        assertEq(token.balanceOf(orch), 5 ether);
        vm.prank(orch2);
        vm.expectRevert(abi.encodeWithSelector(StakeToken.NotMinter.selector, orch2));
        token.mint(orch2, 1);
        vm.prank(orch);
        token.burn(2 ether);
        assertEq(token.totalSupply(), SUPPLY + 3 ether);
        vm.prank(orch);
        vm.expectRevert();
        token.burn(4 ether);
    }
}
