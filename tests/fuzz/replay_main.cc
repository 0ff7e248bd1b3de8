// SPDX-License-Identifier: MIT
// Corpus replay for libFuzzer targets built without libFuzzer (gcc, `meson test --suite
// fuzz`), after systemd's fuzz-main: runs LLVMFuzzerTestOneInput once over every file
// named on the command line or found (recursively, in sorted order) in a directory named
// there. A crash, a sanitizer report or an abort() in the target fails the test; so does
// an unreadable input or an empty corpus (a misconfigured test must not pass silently).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

bool read_whole(const std::string& path, std::vector<uint8_t>* ret_data) {
    FILE* f = fopen(path.c_str(), "rbe");
    if (!f)
        return false;
    ret_data->clear();
    uint8_t buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) ret_data->insert(ret_data->end(), buf, buf + n);
    bool ok = !ferror(f);
    fclose(f);
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    namespace fs = std::filesystem;
    std::vector<std::string> inputs;
    for (int i = 1; i < argc; ++i) {
        std::error_code ec;
        if (fs::is_directory(argv[i], ec)) {
            std::vector<std::string> found;
            for (fs::recursive_directory_iterator it(argv[i], ec), end; !ec && it != end; it.increment(ec))
                if (it->is_regular_file(ec))
                    found.push_back(it->path().string());
            if (ec) {
                fprintf(stderr, "cannot list '%s': %s\n", argv[i], ec.message().c_str());
                return 1;
            }
            std::sort(found.begin(), found.end());
            inputs.insert(inputs.end(), found.begin(), found.end());
        } else {
            inputs.emplace_back(argv[i]);
        }
    }
    if (inputs.empty()) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...; no inputs found\n", argv[0]);
        return 1;
    }
    std::vector<uint8_t> data;
    for (const auto& path : inputs) {
        if (!read_whole(path, &data)) {
            fprintf(stderr, "cannot read '%s'\n", path.c_str());
            return 1;
        }
        fprintf(stderr, "replaying %s (%zu bytes)\n", path.c_str(), data.size());
        // A copy of exactly the input's size, so that ASan sees reads past its end.
        std::vector<uint8_t> exact(data.begin(), data.end());
        (void)LLVMFuzzerTestOneInput(exact.empty() ? nullptr : exact.data(), exact.size());
    }
    printf("replayed %zu inputs\n", inputs.size());
    return 0;
}
