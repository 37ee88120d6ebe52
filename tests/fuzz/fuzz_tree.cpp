// Tree objects: Tree::parse, and the round trip parse(serialize(t)) == t. Input: the object's
// bytes.

#include "core/cache/tree.hpp"
#include "tests/fuzz/fuzz.hpp"

using cairn::cache::Tree;
using cairn::cache::TreeEntry;

namespace {

bool same(const TreeEntry& a, const TreeEntry& b) {
    return a.name == b.name && a.kind == b.kind && a.size == b.size && a.files == b.files &&
           a.digest == b.digest;
}

bool same(const Tree& a, const Tree& b) {
    if (a.entries.size() != b.entries.size()) return false;
    for (std::size_t i = 0; i < a.entries.size(); ++i)
        if (!same(a.entries[i], b.entries[i])) return false;
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string input = cairn::fuzz::bytes(data, size);
    cairn::fuzz::run_one("tree", [&] {
        Tree tree = Tree::parse(input, "tree");
        (void)tree.total_size();
        (void)tree.total_files();
        std::string written = tree.serialize();
        Tree again;
        try {
            again = Tree::parse(written, "serialized tree");
        } catch (const cairn::Error& e) {
            cairn::fuzz::property_failed(
                "tree", std::string("a serialized tree does not parse: ") + e.what(), written);
        }
        if (!same(tree, again))
            cairn::fuzz::property_failed("tree", "parse(serialize(t)) != t", written,
                                         again.serialize());
    });
    return 0;
}
