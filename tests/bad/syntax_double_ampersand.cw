# expect: 4:25: unexpected character '&'; expected 'and', 'clock', 'compute', 'delay', 'else', 'network', 'or', 'output', 'phase', 'stage' or the end of the file; write 'and'
network fcn8s
stage s1 = conv1_1 .. fc7 head score_pool3, score_pool4, score_fr
compute s1 when every 2 && pixeldiff() >= 0.1
output fuse(s1)
