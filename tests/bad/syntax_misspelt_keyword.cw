# expect: 4:27: unexpected 'fird'; expected 'fired' or 'previous'; did you mean 'fired'?
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
clock c = pixeldiff(since=fird) > 0.1
compute s1 when c
output fuse(s1)
