// SPDX-License-Identifier: MIT
#include "lib/config/procfile.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <string>

#include "lib/base/strutil.h"
#include "lib/base/unique_fd.h"
#include "lib/model/values.h"

namespace gaffer::config {

namespace {

bool is_name_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

Unexpected bad(std::string_view path, int line, const std::string& reason) {
    std::string where(path);
    if (line > 0)
        where += ":" + std::to_string(line);
    return fail(EINVAL, where + ": " + reason);
}

std::string at(std::string_view path, int line) {
    return std::string(path) + ":" + std::to_string(line) + ": ";
}

}  // namespace

const ProcfileEntry* Procfile::find(std::string_view name) const {
    for (const auto& e : entries)
        if (e.name == name)
            return &e;
    return nullptr;
}

Result<Procfile> parse_procfile(std::string_view text, std::string_view path, bool strict) {
    if (text.size() > kProcfileMaxBytes)
        return bad(path, 0, "larger than " + std::to_string(kProcfileMaxBytes >> 20) + " MiB");
    Procfile out;
    std::vector<int> first_line;  // line of each entry's first appearance, for warnings
    int line_no = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        ++line_no;
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos)
            end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        if (line.size() > kProcfileMaxLine)
            return bad(path, line_no, "line longer than " + std::to_string(kProcfileMaxLine) + " bytes");
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        for (char c : line) {
            auto u = static_cast<unsigned char>(c);
            if ((u < 0x20 && c != '\t') || u == 0x7f)
                return bad(path, line_no, "binary file (control byte " + std::to_string(u) + ")");
        }
        std::string_view body = trim(line);
        if (body.empty() || body.front() == '#')
            continue;
        size_t n = 0;
        while (n < line.size() && is_name_char(line[n])) ++n;
        std::string_view command = n < line.size() && line[n] == ':' ? trim(line.substr(n + 1)) : std::string_view();
        if (n == 0 || command.empty()) {
            std::string why = "malformed line (expected 'name: command', name of A-Z a-z 0-9 _ -)";
            if (strict)
                return bad(path, line_no, why);
            out.warnings.push_back(at(path, line_no) + why + ": skipped");
            continue;
        }
        std::string_view name = line.substr(0, n);
        if (name.size() > kProcfileMaxName)
            return bad(path, line_no, "name longer than " + std::to_string(kProcfileMaxName) + " bytes");
        if (auto words = model::shell_split(command); !words)
            return bad(path, line_no, "command: " + words.error().context);
        else if (words->empty())
            return bad(path, line_no, "command: empty");
        bool repeated = false;
        for (size_t i = 0; i < out.entries.size(); ++i) {
            ProcfileEntry& e = out.entries[i];
            if (e.name != name)
                continue;
            out.warnings.push_back(at(path, line_no) + "duplicate process type '" + e.name + "' (first on line " +
                                   std::to_string(first_line[i]) + "): this command replaces the earlier one");
            e.command = std::string(command);
            e.line = line_no;
            repeated = true;
            break;
        }
        if (!repeated) {
            out.entries.push_back(ProcfileEntry{std::string(name), std::string(command), line_no});
            first_line.push_back(line_no);
        }
    }
    return out;
}

Result<std::string> read_config_text(const std::string& path, size_t max_bytes) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (!fd)
        return fail(Error::from_errno("open '%s'", path.c_str()));
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0)
        return fail(Error::from_errno("stat '%s'", path.c_str()));
    if (!S_ISREG(st.st_mode))
        return fail(EINVAL, path + ": not a regular file");
    auto text = read_fd(fd.get(), path, max_bytes);
    if (!text && text.error().code == EFBIG)
        return fail(EINVAL, path + ": larger than " + std::to_string(max_bytes >> 20) + " MiB");
    return text;
}

Result<Procfile> load_procfile(const std::string& path, bool strict) {
    GAFFER_TRY(std::string text, read_config_text(path, kProcfileMaxBytes));
    return parse_procfile(text, path, strict);
}

}  // namespace gaffer::config
