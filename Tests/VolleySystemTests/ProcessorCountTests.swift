import Glibc
import Testing
@testable import VolleySystem

@Suite("ProcessorCount: what reactors: auto starts")
struct ProcessorCountTests {
    @Test("cgroup cpu.max quotas round up; max and nonsense are no limit")
    func quota() {
        #expect(ProcessorCount.parseQuota("max 100000\n") == nil)
        #expect(ProcessorCount.parseQuota("100000 100000\n") == 1)
        #expect(ProcessorCount.parseQuota("150000 100000\n") == 2)
        #expect(ProcessorCount.parseQuota("50000 100000") == 1)
        #expect(ProcessorCount.parseQuota("400000 100000") == 4)
        #expect(ProcessorCount.parseQuota("") == nil)
        #expect(ProcessorCount.parseQuota("0 100000") == nil)
        #expect(ProcessorCount.parseQuota("a b") == nil)
    }

    @Test("at least one, at most the CPUs online")
    func available() {
        let count = ProcessorCount.available()
        #expect(count >= 1)
        #expect(count <= max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}
