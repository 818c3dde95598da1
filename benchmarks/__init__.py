"""Side-by-side benchmarks: dingnotify vs a raw-aiohttp ceiling vs the peer dingtalk-sdk."""
