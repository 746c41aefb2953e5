// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./base/Fixture.sol";
import {ServiceRegistry} from "../src/ServiceRegistry.sol";
import {IBondingManager} from "../src/interfaces/IBondingManager.sol";

contract ServiceRegistryTest is Fixture {
    bytes32 internal constant CPU = "transcode/cpu";
    bytes32 internal constant GPU = "transcode/gpu";
    bytes32 internal constant LADDER = "h264 1080p -> 720p";
    bytes32 internal constant EU = "eu-west";
    bytes32 internal constant US = "us-east";

    function _services(bytes32 a, address va, bytes32 b, address vb)
        internal
        pure
        returns (ServiceRegistry.Service[] memory s)
    {
        s = new ServiceRegistry.Service[](2);
        s[0] = ServiceRegistry.Service(a, va);
        s[1] = ServiceRegistry.Service(b, vb);
    }

    function _regions(bytes32 a) internal pure returns (bytes32[] memory r) {
        r = new bytes32[](1);
        r[0] = a;
    }

    function test_constructor() public {
        vm.expectRevert(ServiceRegistry.ZeroAddress.selector);
        new ServiceRegistry(IBondingManager(address(0)), 1);
        assertEq(address(registry.bondingManager()), address(bonding));
        assertEq(registry.verifierGracePeriod(), GRACE_BLOCKS);
    }

    function test_register_and_discoverInOneCall() public {
        _activate(orch, 1000 ether, 100_000, 500_000);
        _registerOnly(orch2, 10 ether, 0, 0);
        vm.expectEmit(address(registry));
        emit ServiceRegistry.Listed(orch);
        vm.prank(orch);
        registry.register(
            "quic://orch.example:8935", _services(CPU, address(trusted), LADDER, address(0)), _regions(EU)
        );
        vm.prank(orch2);
        registry.register(
            "quic://orch2.example:8935", _services(GPU, address(0), CPU, address(0)), _regions(US)
        );

        assertEq(registry.orchestratorCount(), 2);
        ServiceRegistry.Entry[] memory page = registry.getEntriesPage(0, 10);
        assertEq(page.length, 2);
        ServiceRegistry.Entry memory e = page[0];
        assertEq(e.orchestrator, orch);
        assertTrue(e.listed);
        assertEq(e.serviceURI, "quic://orch.example:8935", "uri");
        assertEq(e.services.length, 2);
        assertEq(e.services[0].id, CPU);
        assertEq(e.services[0].verifier, address(trusted));
        assertEq(e.services[1].id, LADDER);
        assertEq(e.regions[0], EU);
        assertTrue(e.registered);
        assertTrue(e.active);
        assertEq(e.stake, 1000 ether);
        assertEq(e.rewardCut, 100_000);
        assertEq(e.feeShare, 500_000);
        assertFalse(page[1].active, "below the minimum stake");

        address[] memory who = new address[](3);
        who[0] = orch2;
        who[1] = orch;
        who[2] = address(0xdead);
        ServiceRegistry.Entry[] memory some = registry.getEntries(who);
        assertEq(some[0].orchestrator, orch2);
        assertEq(some[1].stake, 1000 ether);
        assertFalse(some[2].listed);
        assertEq(some[2].services.length, 0);

        assertEq(registry.orchestrators(1, 5).length, 1);
        assertEq(registry.orchestrators(2, 5).length, 0);
        assertEq(registry.orchestrators(0, 1)[0], orch);
        assertEq(registry.getEntriesPage(5, 5).length, 0);
    }

    function test_setters_emitEvents() public {
        _registerOnly(orch, 1 ether, 0, 0);
        vm.startPrank(orch);
        vm.expectEmit(address(registry));
        emit ServiceRegistry.ServiceURIUpdated(orch, "quic://a:1");
        registry.setServiceURI("quic://a:1");
        ServiceRegistry.Service[] memory s = _services(CPU, address(0), GPU, address(trusted));
        vm.expectEmit(address(registry));
        emit ServiceRegistry.ServicesUpdated(orch, s);
        registry.setServices(s);
        bytes32[] memory r = new bytes32[](2);
        r[0] = EU;
        r[1] = US;
        vm.expectEmit(address(registry));
        emit ServiceRegistry.RegionsUpdated(orch, r);
        registry.setRegions(r);
        vm.stopPrank();
        assertTrue(registry.isListed(orch));
        assertEq(registry.getEntry(orch).regions.length, 2);
        assertEq(registry.verifierFor(orch, GPU), address(trusted));
        assertEq(registry.verifierFor(orch, CPU), address(0));
    }

    function test_validation() public {
        _registerOnly(orch, 1 ether, 0, 0);
        vm.startPrank(orch);
        vm.expectRevert(abi.encodeWithSelector(ServiceRegistry.InvalidURILength.selector, 0));
        registry.setServiceURI("");
        bytes memory long = new bytes(513);
        vm.expectRevert(abi.encodeWithSelector(ServiceRegistry.InvalidURILength.selector, 513));
        registry.setServiceURI(string(long));

        vm.expectRevert(
            abi.encodeWithSelector(ServiceRegistry.InvalidServiceId.selector, bytes32("Transcode/CPU"))
        );
        registry.setServices(_services("Transcode/CPU", address(0), GPU, address(0)));
        vm.expectRevert(abi.encodeWithSelector(ServiceRegistry.InvalidServiceId.selector, bytes32(0)));
        registry.setServices(_services(bytes32(0), address(0), GPU, address(0)));
        bytes32 gap = bytes32(uint256(bytes32("ab")) | 1); // bytes after the terminating zero
        vm.expectRevert(abi.encodeWithSelector(ServiceRegistry.InvalidServiceId.selector, gap));
        registry.setServices(_services(gap, address(0), GPU, address(0)));
        vm.expectRevert(abi.encodeWithSelector(ServiceRegistry.DuplicateServiceId.selector, GPU));
        registry.setServices(_services(GPU, address(0), GPU, address(1)));
        ServiceRegistry.Service[] memory many = new ServiceRegistry.Service[](33);
        vm.expectRevert(abi.encodeWithSelector(ServiceRegistry.TooManyServices.selector, 33));
        registry.setServices(many);

        vm.expectRevert(abi.encodeWithSelector(ServiceRegistry.InvalidRegion.selector, bytes32("EU")));
        registry.setRegions(_regions("EU"));
        bytes32[] memory dup = new bytes32[](2);
        dup[0] = EU;
        dup[1] = EU;
        vm.expectRevert(abi.encodeWithSelector(ServiceRegistry.DuplicateRegion.selector, EU));
        registry.setRegions(dup);
        vm.expectRevert(abi.encodeWithSelector(ServiceRegistry.TooManyRegions.selector, 33));
        registry.setRegions(new bytes32[](33));
        vm.stopPrank();
        assertFalse(registry.isListed(orch), "nothing stored");
    }

    function test_isCanonical() public view {
        assertTrue(registry.isCanonical("transcode/cpu"));
        assertTrue(registry.isCanonical("verify/segment"));
        assertTrue(registry.isCanonical("h264 1080p -> 720p"));
        assertTrue(registry.isCanonical("abcdefghijklmnopqrstuvwxyz012345")); // 32 bytes
        assertFalse(registry.isCanonical(""));
        assertFalse(registry.isCanonical("Eu-west"));
        assertFalse(registry.isCanonical(bytes32(uint256(1))), "leading zero byte");
        assertFalse(registry.isCanonical(bytes32(bytes1(0x7f))), "DEL");
        assertFalse(registry.isCanonical(bytes32(bytes1(0x0a))), "control character");
    }

    function test_unlist() public {
        _registerOnly(orch, 1 ether, 0, 0);
        _registerOnly(orch2, 1 ether, 0, 0);
        _registerOnly(sender, 1 ether, 0, 0);
        vm.prank(orch);
        vm.expectRevert(abi.encodeWithSelector(ServiceRegistry.NotListed.selector, orch));
        registry.unlist();
        vm.prank(orch);
        registry.register("quic://a:1", _services(CPU, address(trusted), GPU, address(0)), _regions(EU));
        vm.prank(orch2);
        registry.setServiceURI("quic://b:1");
        vm.prank(sender);
        registry.setServiceURI("quic://c:1");
        vm.expectEmit(address(registry));
        emit ServiceRegistry.Unlisted(orch);
        vm.prank(orch);
        registry.unlist();
        assertEq(registry.orchestratorCount(), 2);
        assertFalse(registry.isListed(orch));
        assertEq(registry.orchestrators(0, 2)[0], sender, "last entry moved into the hole");
        assertEq(registry.getEntry(orch).services.length, 0);
        // The removed verifier stays in force for the grace period.
        assertEq(registry.verifierFor(orch, CPU), address(trusted));
        vm.roll(block.number + GRACE_BLOCKS);
        assertEq(registry.verifierFor(orch, CPU), address(0));
        // Listing again works and the remaining entries stay reachable.
        vm.prank(sender);
        registry.unlist();
        vm.prank(orch2);
        registry.unlist();
        assertEq(registry.orchestratorCount(), 0);
    }

    function test_verifierGrace_cannotDodgeByChurning() public {
        _registerOnly(orch, 1 ether, 0, 0);
        address friendly = address(0xF00D);
        vm.prank(orch);
        registry.setServices(_services(CPU, address(trusted), GPU, address(0)));
        assertEq(registry.verifierFor(orch, CPU), address(trusted));
        // Remove, then re-add with a friendly verifier within the grace period.
        ServiceRegistry.Service[] memory none = new ServiceRegistry.Service[](0);
        vm.prank(orch);
        registry.setServices(none);
        vm.roll(block.number + 10);
        vm.prank(orch);
        registry.setServices(_services(CPU, friendly, GPU, address(0)));
        assertEq(registry.verifierFor(orch, CPU), address(trusted), "the earlier verifier still decides");
        vm.roll(block.number + GRACE_BLOCKS);
        assertEq(registry.verifierFor(orch, CPU), friendly);
    }

    function test_listing_requiresRegisteredOrchestrator() public {
        address stranger = address(0x5157);
        bytes memory notRegistered = abi.encodeWithSelector(ServiceRegistry.NotRegistered.selector, stranger);
        vm.startPrank(stranger);
        vm.expectRevert(notRegistered);
        registry.register("quic://spam:1", _services(CPU, address(0), GPU, address(0)), _regions(EU));
        vm.expectRevert(notRegistered);
        registry.setServiceURI("quic://spam:1");
        vm.expectRevert(notRegistered);
        registry.setServices(_services(CPU, address(0), GPU, address(0)));
        vm.expectRevert(notRegistered);
        registry.setRegions(_regions(EU));
        vm.stopPrank();
        // Bonded to itself is not enough: registration is.
        _bond(stranger, 1 ether, stranger);
        vm.prank(stranger);
        vm.expectRevert(notRegistered);
        registry.setServiceURI("quic://spam:1");
        assertEq(registry.orchestratorCount(), 0);
        assertFalse(registry.isListed(stranger));

        vm.prank(stranger);
        bonding.registerOrchestrator(0, 0);
        vm.prank(stranger);
        registry.setServiceURI("quic://ok:1");
        assertTrue(registry.isListed(stranger), "listed in the round it registers");
    }

    function test_unlistUnregistered() public {
        _registerOnly(orch, 1 ether, 0, 0);
        vm.prank(orch);
        registry.register("quic://a:1", _services(CPU, address(trusted), GPU, address(0)), _regions(EU));
        vm.prank(address(0xbeef));
        vm.expectRevert(abi.encodeWithSelector(ServiceRegistry.StillRegistered.selector, orch));
        registry.unlistUnregistered(orch);
        vm.expectRevert(abi.encodeWithSelector(ServiceRegistry.NotListed.selector, orch2));
        registry.unlistUnregistered(orch2);

        vm.prank(orch);
        bonding.resign();
        // A resigned orchestrator can no longer change its entry; anyone may delete it.
        vm.prank(orch);
        vm.expectRevert(abi.encodeWithSelector(ServiceRegistry.NotRegistered.selector, orch));
        registry.setServiceURI("quic://b:1");
        vm.expectEmit(address(registry));
        emit ServiceRegistry.Unlisted(orch);
        vm.prank(address(0xbeef));
        registry.unlistUnregistered(orch);
        assertFalse(registry.isListed(orch));
        assertEq(registry.orchestratorCount(), 0);
        // The removed verifier stays in force for the grace period, as with unlist.
        assertEq(registry.verifierFor(orch, CPU), address(trusted));
        vm.roll(block.number + GRACE_BLOCKS);
        assertEq(registry.verifierFor(orch, CPU), address(0));
    }

    function test_unlistUnregistered_malformedCalldataChangesNothing() public {
        _registerOnly(orch, 1 ether, 0, 0);
        vm.prank(orch);
        registry.setServiceURI("quic://a:1");
        vm.prank(orch);
        bonding.resign();
        // A truncated address argument: the ABI decoder refuses it.
        (bool ok,) = address(registry)
            .call(abi.encodePacked(ServiceRegistry.unlistUnregistered.selector, bytes20(orch)));
        assertFalse(ok);
        // Dirty upper bits in the address word: refused as well.
        (ok,) = address(registry)
            .call(
                abi.encodePacked(
                    ServiceRegistry.unlistUnregistered.selector, uint256(uint160(orch)) | (1 << 200)
                )
            );
        assertFalse(ok);
        assertTrue(registry.isListed(orch), "nothing changed");
    }

    function testFuzz_isCanonical(bytes32 id) public view {
        bool expected = id != bytes32(0);
        bool ended;
        for (uint256 i; i < 32 && expected; ++i) {
            uint8 c = uint8(id[i]);
            if (ended) expected = c == 0;
            else if (c == 0) ended = true;
            else expected = c >= 0x20 && c <= 0x7e && !(c >= 0x41 && c <= 0x5a);
        }
        assertEq(registry.isCanonical(id), expected);
    }
}
