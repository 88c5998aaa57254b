// Dead letters: stream entries that no consumer could handle (core::StreamConsumerOptions::max_deliveries), newest
// first, with the reason. Read-only: what to do with one is an operator's decision.
#include "http.hpp"
#include "squall/core/store/store.hpp"

namespace squall::api {

void RegisterDeadLetterRoutes(Router& r, ApiDeps& d) {
    r.Get("/deadletters", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<Page> page = QueryPage(req, 1000);
        if (!page) return SendError(res, page.error());
        const std::string key = core::Keys(d.redis->endpoint().key_prefix).DeadLetters();
        Result<std::vector<core::RedisReply>> replies = d.redis->PipelineBlocking({
            {"XLEN", key},
            {"XREVRANGE", key, "+", "-", "COUNT", std::to_string(page->offset + page->limit)},
        });
        if (!replies) return SendError(res, replies.error());
        std::vector<Json> items;
        const core::RedisReply& range = (*replies)[1];
        for (size_t i = page->offset; i < range.elements.size(); ++i) {
            const core::RedisReply& entry = range.elements[i];
            if (entry.elements.size() < 2) continue;
            const auto& fields = entry.elements[1].elements;
            for (size_t f = 0; f + 1 < fields.size(); f += 2) {
                if (fields[f].str != "d") continue;
                Json letter = Json::parse(fields[f + 1].str, nullptr, false);
                if (letter.is_discarded()) continue;
                letter["dead_letter_id"] = entry.elements[0].str;
                items.push_back(std::move(letter));
            }
        }
        SendList(res, items, static_cast<size_t>((*replies)[0].integer), page->limit);
    });
}

}  // namespace squall::api
