# expect: 1:1: no network line
stage s1 = conv1_1 .. pool3 head score_pool3
compute s1 when 1
output fuse(s1)
