// Small helpers over Debian's libsqlite3 shared by the dataset tables (pipeline/cohort.cpp,
// dataset.sqlite) and the session log (pipeline/session_db.cpp): an owning handle, a checked
// call that throws with the file's name and SQLite's message, and binding a JSON value (null,
// text, integer, real, boolean) to a statement's parameter.
// Configuration and result-writing time only: everything here may allocate and throw.
#pragma once

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace semg::pipeline::sqlite {

// An open database, closed when destroyed (sqlite3_close(nullptr) is a no-op).
struct Handle {
    sqlite3* db = nullptr;
    Handle() = default;
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { sqlite3_close(db); }
};

// A prepared statement, finalised when destroyed.
using Statement = std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)>;

// Throws std::runtime_error "<file>: <what>: <SQLite's message>" unless rc is OK, DONE or ROW.
inline void check(int rc, sqlite3* db, const std::filesystem::path& file, const std::string& what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        throw std::runtime_error(file.string() + ": " + what + ": " +
                                 (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

inline Statement prepare(sqlite3* db, const std::string& sql, const std::filesystem::path& file) {
    sqlite3_stmt* stmt = nullptr;
    check(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), db, file,
          "prepare " + sql.substr(0, 40));
    return Statement(stmt, sqlite3_finalize);
}

// Parameter i (1-based) of `stmt` from a JSON value; objects and arrays as their JSON text.
template <class Json> void bind(sqlite3_stmt* stmt, int i, const Json& v) {
    if (v.is_null()) {
        sqlite3_bind_null(stmt, i);
    } else if (v.is_string()) {
        const auto& text = v.template get_ref<const std::string&>();
        sqlite3_bind_text(stmt, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    } else if (v.is_boolean()) {
        sqlite3_bind_int(stmt, i, v.template get<bool>() ? 1 : 0);
    } else if (v.is_number_integer() || v.is_number_unsigned()) {
        sqlite3_bind_int64(stmt, i, v.template get<sqlite3_int64>());
    } else if (v.is_number_float()) {
        sqlite3_bind_double(stmt, i, v.template get<double>());
    } else {
        const std::string text = v.dump();
        sqlite3_bind_text(stmt, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    }
}

// Column i (0-based) of the current row as JSON: null, integer, real or text.
inline nlohmann::ordered_json column(sqlite3_stmt* stmt, int i) {
    switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER: return sqlite3_column_int64(stmt, i);
    case SQLITE_FLOAT: return sqlite3_column_double(stmt, i);
    case SQLITE_TEXT:
        return std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, i)),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt, i)));
    default: return nullptr;
    }
}

} // namespace semg::pipeline::sqlite
