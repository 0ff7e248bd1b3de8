// SPDX-License-Identifier: MIT
#include "lib/config/dotenv.h"

#include <cerrno>
#include <optional>
#include <string>

#include "lib/config/procfile.h"
namespace gaffer::config {

namespace {

constexpr int kMaxDepth = 16;

bool is_blank(char c) {
    return c == ' ' || c == '\t';
}
bool is_name_start(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool is_name_char(char c) {
    return is_name_start(c) || (c >= '0' && c <= '9');
}

class Parser {
public:
    Parser(std::string_view text, std::string_view path, const model::Env& base, model::Env& vars)
        : text_(text), path_(path), base_(base), vars_(vars) {}

    Status run();

private:
    Unexpected bad(const std::string& reason) const {
        return fail(EINVAL, std::string(path_) + ":" + std::to_string(key_line_) + ": " + reason);
    }
    bool at_end() const { return pos_ >= text_.size(); }
    char peek() const { return at_end() ? '\0' : text_[pos_]; }
    void skip_blanks() {
        while (!at_end() && is_blank(text_[pos_])) ++pos_;
    }
    // Consumes the rest of the line, which may only be blanks and a comment.
    Status end_of_line(const char* after);
    void next_line() {
        size_t nl = text_.find('\n', pos_);
        pos_ = nl == std::string_view::npos ? text_.size() : nl + 1;
        ++line_;
    }
    std::optional<std::string_view> lookup(std::string_view name) const {
        if (auto it = vars_.find(std::string(name)); it != vars_.end())
            return it->second;
        if (auto it = base_.find(std::string(name)); it != base_.end())
            return it->second;
        return std::nullopt;
    }
    Status append(std::string& out, std::string_view s) const {
        if (out.size() + s.size() > kDotenvMaxValue)
            return bad("value longer than " + std::to_string(kDotenvMaxValue) + " bytes");
        out.append(s);
        return ok();
    }
    // Interpolates `s` (unquoted text or the raw inside of double quotes) into `out`.
    Status interpolate(std::string_view s, bool escapes, int depth, std::string& out) const;
    // `s` starts after "${"; on success *used is the length up to and with the '}'.
    Status braced(std::string_view s, bool escapes, int depth, std::string& out, size_t* used) const;

    std::string_view text_;
    std::string_view path_;
    const model::Env& base_;
    model::Env& vars_;
    size_t pos_ = 0;
    int line_ = 1;      // line of pos_
    int key_line_ = 1;  // line of the assignment being read
};

Status Parser::end_of_line(const char* after) {
    skip_blanks();
    if (peek() == '\r' && (pos_ + 1 == text_.size() || text_[pos_ + 1] == '\n'))
        ++pos_;
    if (at_end() || peek() == '#' || peek() == '\n') {
        next_line();
        return ok();
    }
    return bad(std::string("unexpected text after ") + after);
}

Status Parser::interpolate(std::string_view s, bool escapes, int depth, std::string& out) const {
    if (depth > kMaxDepth)
        return bad("interpolation nested more than " + std::to_string(kMaxDepth) + " deep");
    size_t i = 0;
    while (i < s.size()) {
        char c = s[i];
        if (escapes && c == '\\' && i + 1 < s.size()) {
            char e = s[i + 1];
            const char* rep = nullptr;
            switch (e) {
                case 'n':
                    rep = "\n";
                    break;
                case 'r':
                    rep = "\r";
                    break;
                case 't':
                    rep = "\t";
                    break;
                case '\\':
                    rep = "\\";
                    break;
                case '"':
                    rep = "\"";
                    break;
                case '$':
                    rep = "$";
                    break;
                default:
                    break;
            }
            GAFFER_RETURN_IF_ERROR(append(out, rep ? std::string_view(rep) : s.substr(i, 2)));
            i += 2;
            continue;
        }
        if (c != '$' || i + 1 >= s.size()) {
            GAFFER_RETURN_IF_ERROR(append(out, s.substr(i, 1)));
            ++i;
            continue;
        }
        char d = s[i + 1];
        if (d == '$') {
            GAFFER_RETURN_IF_ERROR(append(out, "$"));
            i += 2;
        } else if (d == '{') {
            size_t used = 0;
            GAFFER_RETURN_IF_ERROR(braced(s.substr(i + 2), escapes, depth, out, &used));
            i += 2 + used;
        } else if (is_name_start(d)) {
            size_t j = i + 1;
            while (j < s.size() && is_name_char(s[j])) ++j;
            if (auto v = lookup(s.substr(i + 1, j - i - 1)))
                GAFFER_RETURN_IF_ERROR(append(out, *v));
            i = j;
        } else {
            GAFFER_RETURN_IF_ERROR(append(out, "$"));
            ++i;
        }
    }
    return ok();
}

Status Parser::braced(std::string_view s, bool escapes, int depth, std::string& out, size_t* used) const {
    size_t n = 0;
    while (n < s.size() && is_name_char(s[n])) ++n;
    if (n == 0 || !is_name_start(s[0]))
        return bad("bad substitution: '${' must be followed by a variable name");
    std::string_view name = s.substr(0, n);
    // The word runs to the '}' that closes this "${", counting nested "${".
    size_t open = 1, k = n;
    for (; k < s.size(); ++k) {
        if (escapes && s[k] == '\\') {
            ++k;
        } else if (s[k] == '$' && k + 1 < s.size() && s[k + 1] == '{') {
            ++open;
            ++k;
        } else if (s[k] == '}' && --open == 0) {
            break;
        }
    }
    if (k >= s.size())
        return bad("unterminated '${" + std::string(name) + "'");
    *used = k + 1;
    std::string_view op_and_word = s.substr(n, k - n);
    auto value = lookup(name);
    if (op_and_word.empty()) {
        if (value)
            GAFFER_RETURN_IF_ERROR(append(out, *value));
        return ok();
    }
    bool colon = op_and_word[0] == ':';
    std::string_view rest = colon ? op_and_word.substr(1) : op_and_word;
    if (rest.empty() || (rest[0] != '-' && rest[0] != '+' && rest[0] != '?'))
        return bad("bad substitution '${" + std::string(name) + std::string(op_and_word) +
                   "}' (supported: ${VAR} ${VAR:-w} ${VAR-w} ${VAR:+w} ${VAR+w} ${VAR:?msg} ${VAR?msg})");
    char op = rest[0];
    std::string_view word = rest.substr(1);
    bool set = colon ? value && !value->empty() : value.has_value();
    switch (op) {
        case '-':
            if (set)
                return append(out, *value);
            return interpolate(word, escapes, depth + 1, out);
        case '+':
            if (set)
                return interpolate(word, escapes, depth + 1, out);
            return ok();
        default: {  // '?'
            if (set)
                return append(out, *value);
            std::string msg;
            GAFFER_RETURN_IF_ERROR(interpolate(word, escapes, depth + 1, msg));
            if (msg.empty())
                msg = colon ? "required variable is unset or empty" : "required variable is unset";
            return bad(std::string(name) + ": " + msg);
        }
    }
}

Status Parser::run() {
    while (!at_end()) {
        key_line_ = line_;
        skip_blanks();
        if (at_end())
            break;
        char c = peek();
        if (c == '\n' || c == '#' || (c == '\r' && (pos_ + 1 == text_.size() || text_[pos_ + 1] == '\n'))) {
            next_line();
            continue;
        }
        if (text_.substr(pos_).starts_with("export") && pos_ + 6 < text_.size() && is_blank(text_[pos_ + 6])) {
            pos_ += 6;
            skip_blanks();
        }
        size_t key_start = pos_;
        if (!is_name_start(peek()))
            return bad("expected KEY=value (KEY of A-Z a-z 0-9 _ . -, not starting with a digit)");
        while (!at_end() && (is_name_char(peek()) || peek() == '.' || peek() == '-')) ++pos_;
        std::string key(text_.substr(key_start, pos_ - key_start));
        skip_blanks();
        if (peek() != '=')
            return bad("expected KEY=value, got no '=' after '" + key + "'");
        ++pos_;
        skip_blanks();
        std::string value;
        char q = peek();
        if (q == '\'' || q == '"') {
            size_t start = ++pos_;
            int start_line = line_;
            while (!at_end() && peek() != q) {
                if (peek() == '\\' && pos_ + 1 < text_.size()) {
                    // In single quotes only \' is special; in double quotes every escape
                    // pair is skipped here and decoded below.
                    if (q == '"' || text_[pos_ + 1] == '\'') {
                        if (text_[pos_ + 1] == '\n')
                            ++line_;
                        pos_ += 2;
                        continue;
                    }
                }
                if (peek() == '\n')
                    ++line_;
                ++pos_;
            }
            if (at_end()) {
                line_ = start_line;
                return bad(std::string("unterminated ") + (q == '"' ? "double" : "single") + " quote");
            }
            std::string_view raw = text_.substr(start, pos_ - start);
            ++pos_;
            if (q == '"') {
                GAFFER_RETURN_IF_ERROR(interpolate(raw, true, 0, value));
            } else {
                for (size_t i = 0; i < raw.size(); ++i) {
                    if (raw[i] == '\\' && i + 1 < raw.size() && raw[i + 1] == '\'')
                        ++i;
                    GAFFER_RETURN_IF_ERROR(append(value, raw.substr(i, 1)));
                }
            }
            GAFFER_RETURN_IF_ERROR(end_of_line("the closing quote"));
        } else {
            size_t nl = text_.find('\n', pos_);
            size_t end = nl == std::string_view::npos ? text_.size() : nl;
            std::string_view raw = text_.substr(pos_, end - pos_);
            // An inline comment starts at a '#' after a blank (the blanks after '=' count).
            for (size_t i = 0; i < raw.size(); ++i) {
                if (raw[i] == '#' && (i == 0 ? is_blank(text_[pos_ - 1]) : is_blank(raw[i - 1]))) {
                    raw = raw.substr(0, i);
                    break;
                }
            }
            while (!raw.empty() && (is_blank(raw.back()) || raw.back() == '\r')) raw.remove_suffix(1);
            GAFFER_RETURN_IF_ERROR(interpolate(raw, false, 0, value));
            pos_ = end;
            next_line();
        }
        vars_[std::move(key)] = std::move(value);
    }
    return ok();
}

}  // namespace

Status parse_dotenv(std::string_view text, std::string_view path, const model::Env& base, model::Env& into) {
    if (text.size() > kDotenvMaxBytes)
        return fail(EINVAL, std::string(path) + ": larger than " + std::to_string(kDotenvMaxBytes >> 20) + " MiB");
    if (size_t nul = text.find('\0'); nul != std::string_view::npos) {
        int line = 1;
        for (size_t i = 0; i < nul; ++i) line += text[i] == '\n';
        return fail(EINVAL, std::string(path) + ":" + std::to_string(line) + ": binary file (NUL byte)");
    }
    model::Env vars = into;
    Parser parser(text, path, base, vars);
    GAFFER_RETURN_IF_ERROR(parser.run());
    size_t total = 0;
    for (const auto& [k, v] : vars) total += k.size() + v.size() + 2;
    if (total > kDotenvMaxTotal)
        return fail(EINVAL, std::string(path) + ": the variables take more than " +
                                std::to_string(kDotenvMaxTotal >> 20) + " MiB");
    into = std::move(vars);
    return ok();
}

Status load_dotenv(const std::string& path, bool required, const model::Env& base, model::Env& into) {
    auto text = read_config_text(path, kDotenvMaxBytes);
    if (!text)
        return !required && text.error().code == ENOENT ? ok() : fail(text.error());
    return parse_dotenv(*text, path, base, into);
}

}  // namespace gaffer::config
