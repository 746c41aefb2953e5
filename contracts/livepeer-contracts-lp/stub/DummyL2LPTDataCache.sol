// SPDX-License-Identifier: MIT OR Apache-2.0
// Written for livepeer-rs (not Livepeer's source): the one contract of a Livepeer deployment the
// local test set stubs. On Arbitrum, Minter reads `L2LPTDataCache.l1CirculatingSupply()` while
// it computes a round's inflation; on a local chain there is no L1 supply, so it is zero.
pragma solidity 0.8.9;

contract DummyL2LPTDataCache {
    function l1CirculatingSupply() external pure returns (uint256) {
        return 0;
    }
}
