// A streaming JSON writer for khotool: every value goes to the output as
// it is given, so a listing of millions of preserved blocks never exists as
// a document in memory; only the nesting (one small frame per open object
// or array) is kept.
//
// Strings are byte strings (FDT node names, file paths: whatever a state or
// a user put there) and come out as ASCII-only JSON, valid whatever the
// input:
//   - '"' and '\' are escaped; \b \f \n \r \t by name; other control
//     characters (0x00-0x1f) and DEL (0x7f) as \u00XX;
//   - well-formed UTF-8 (RFC 3629: shortest form, no surrogates, at most
//     U+10FFFF) as \uXXXX escapes, code points above U+FFFF as a
//     surrogate pair, so a UTF-8 name reads back as itself;
//   - every byte that does not start a well-formed sequence as \ufffd
//     (U+FFFD, the replacement character): the document stays valid, and a
//     reader can tell that the name was not UTF-8.
//
// Misuse (a value where a member name is due, a closing bracket that does
// not match, a second root value) is not written: the writer records it
// and finish() reports it, as it reports write errors.
#pragma once
#include <stdint.h>
#include <stdio.h>

#include <string>
#include <string_view>
#include <vector>

namespace kho::tools {

class JsonWriter {
public:
    explicit JsonWriter(FILE* out) : out_(out) {}
    JsonWriter(const JsonWriter&) = delete;
    JsonWriter& operator=(const JsonWriter&) = delete;

    void begin_object();
    void end_object();
    void begin_array();
    void end_array();
    // The next member's name; objects only, and once per value.
    void key(std::string_view name);
    void string(std::string_view bytes);
    void number(uint64_t value);
    void boolean(bool value);
    void null();

    // Ends the document with a newline and flushes. False if the calls
    // did not form exactly one complete value, or writing failed.
    bool finish();
    // False once a call was misused or a write failed.
    bool ok() const { return !misused_ && !ferror(out_); }
    size_t depth() const { return stack_.size(); }

private:
    struct Frame {
        bool object;
        bool have_key;
        uint64_t count;
    };
    bool before_value();  // separator and checks; false (nothing written) on misuse
    void after_value();
    void separator(const Frame& f);

    FILE* out_;
    std::vector<Frame> stack_;
    bool root_done_ = false;
    bool misused_ = false;
};

// The JSON string literal (quotes included) for `bytes`, escaped as above.
std::string json_quote(std::string_view bytes);

// `bytes` for a terminal or a one-line log: printable ASCII as is, '\' as
// "\\", everything else (control characters, DEL, bytes >= 0x80) as
// "\xNN". Never contains a newline.
std::string printable(std::string_view bytes);

}  // namespace kho::tools
