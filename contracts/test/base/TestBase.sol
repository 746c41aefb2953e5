// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Vm} from "./Vm.sol";

/// @notice Minimal test base: the cheatcode handle, assertions that revert with a message, and `bound`.
abstract contract TestBase {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    error AssertionFailed(string message);

    function fail(string memory message) internal pure {
        revert AssertionFailed(message);
    }

    function assertTrue(bool value, string memory message) internal pure {
        if (!value) fail(message);
    }

    function assertTrue(bool value) internal pure {
        assertTrue(value, "expected true");
    }

    function assertFalse(bool value) internal pure {
        assertTrue(!value, "expected false");
    }

    function assertFalse(bool value, string memory message) internal pure {
        assertTrue(!value, message);
    }

    function assertEq(uint256 a, uint256 b, string memory message) internal pure {
        if (a != b) {
            fail(string.concat(message, ": ", vm.toString(a), " != ", vm.toString(b)));
        }
    }

    function assertEq(uint256 a, uint256 b) internal pure {
        assertEq(a, b, "uint mismatch");
    }

    function assertEq(address a, address b, string memory message) internal pure {
        if (a != b) fail(string.concat(message, ": ", vm.toString(a), " != ", vm.toString(b)));
    }

    function assertEq(address a, address b) internal pure {
        assertEq(a, b, "address mismatch");
    }

    function assertEq(bytes32 a, bytes32 b, string memory message) internal pure {
        if (a != b) fail(string.concat(message, ": ", vm.toString(a), " != ", vm.toString(b)));
    }

    function assertEq(bytes32 a, bytes32 b) internal pure {
        assertEq(a, b, "bytes32 mismatch");
    }

    function assertEq(bool a, bool b, string memory message) internal pure {
        if (a != b) fail(string.concat(message, ": ", vm.toString(a), " != ", vm.toString(b)));
    }

    function assertEq(bool a, bool b) internal pure {
        assertEq(a, b, "bool mismatch");
    }

    function assertEq(bytes memory a, bytes memory b, string memory message) internal pure {
        if (keccak256(a) != keccak256(b)) {
            fail(string.concat(message, ": ", vm.toString(a), " != ", vm.toString(b)));
        }
    }

    function assertEq(bytes memory a, bytes memory b) internal pure {
        assertEq(a, b, "bytes mismatch");
    }

    function assertEq(string memory a, string memory b, string memory message) internal pure {
        if (keccak256(bytes(a)) != keccak256(bytes(b))) fail(string.concat(message, ": ", a, " != ", b));
    }

    function assertLe(uint256 a, uint256 b, string memory message) internal pure {
        if (a > b) fail(string.concat(message, ": ", vm.toString(a), " > ", vm.toString(b)));
    }

    function assertGe(uint256 a, uint256 b, string memory message) internal pure {
        if (a < b) fail(string.concat(message, ": ", vm.toString(a), " < ", vm.toString(b)));
    }

    function assertApproxEqAbs(uint256 a, uint256 b, uint256 maxDelta, string memory message) internal pure {
        uint256 delta = a > b ? a - b : b - a;
        if (delta > maxDelta) {
            fail(string.concat(message, ": ", vm.toString(a), " !~ ", vm.toString(b)));
        }
    }

    /// @dev Maps `x` into [min, max] without discarding fuzz inputs.
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        if (min > max) fail("bound: min > max");
        if (x >= min && x <= max) return x;
        uint256 size = max - min + 1;
        if (size == 0) return x; // full range
        return min + (x % size);
    }
}
