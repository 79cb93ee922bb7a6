#pragma once
// Response bodies in the shapes the online APIs document (Semantic Scholar Graph API paper
// search / details / recommendations, OpenAlex /works, the arXiv API's Atom feed and its error
// feed, Hugging Face Hub /api/models and /api/datasets, GitHub /search/repositories and
// /search/code), shortened to a few records. Shared by the sans-io unit tests and the loopback
// integration tests.
#include <string>

namespace mlrc::test::fixtures {

inline const std::string s2_search = R"J({"total": 15117, "offset": 0, "next": 2, "data": [
 {"paperId": "204e3073870fae3d05bcbc2f6a8e263d9b72e776",
  "externalIds": {"DBLP": "conf/nips/VaswaniSPUJGKP17", "MAG": "2963403868", "ArXiv": "1706.03762", "CorpusId": 13756489},
  "url": "https://www.semanticscholar.org/paper/204e3073870fae3d05bcbc2f6a8e263d9b72e776",
  "title": "Attention is All you Need",
  "abstract": "The dominant sequence transduction models are based on complex recurrent or convolutional neural networks in an encoder-decoder configuration. We propose a new simple network architecture, the Transformer, based solely on attention mechanisms.",
  "venue": "Neural Information Processing Systems",
  "publicationVenue": {"id": "d9720b90-d60b-48bc-9df8-87a30b9a60dd", "name": "Neural Information Processing Systems", "type": "conference", "alternate_names": ["NeurIPS", "NIPS"]},
  "year": 2017, "publicationDate": "2017-06-12", "citationCount": 120321,
  "authors": [{"authorId": "40348417", "name": "Ashish Vaswani"}, {"authorId": "1846258", "name": "Noam M. Shazeer"}],
  "fieldsOfStudy": ["Computer Science"],
  "s2FieldsOfStudy": [{"category": "Computer Science", "source": "external"}, {"category": "Computer Science", "source": "s2-fos-model"}],
  "openAccessPdf": {"url": "https://arxiv.org/pdf/1706.03762", "status": "GREEN", "license": "cc-by"}},
 {"paperId": "df2b0e26d0599ce3e70df8a9da02e51594e0e992",
  "externalIds": {"ArXiv": "1810.04805", "DOI": "10.18653/v1/N19-1423", "CorpusId": 52967399},
  "url": "https://www.semanticscholar.org/paper/df2b0e26d0599ce3e70df8a9da02e51594e0e992",
  "title": "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
  "abstract": null,
  "venue": "North American Chapter of the Association for Computational Linguistics",
  "publicationVenue": null, "year": 2019, "publicationDate": null, "citationCount": 90000,
  "authors": [{"authorId": "39172707", "name": "Jacob Devlin"}],
  "fieldsOfStudy": ["Computer Science"], "s2FieldsOfStudy": [], "openAccessPdf": null}
]})J";

inline const std::string s2_paper = R"J({"paperId": "b4df3ab2a9e2e3a3b3c7dc5c4a4b8a2f0f3e1d2c",
  "externalIds": {"ArXiv": "2408.14033", "CorpusId": 271957542},
  "url": "https://www.semanticscholar.org/paper/b4df3ab2a9e2e3a3b3c7dc5c4a4b8a2f0f3e1d2c",
  "title": "MLR-Copilot: Autonomous Machine Learning Research based on Large Language Models Agents",
  "abstract": "Machine learning research, crucial for technological advancements and innovation, often faces significant challenges.",
  "venue": "arXiv.org", "year": 2024, "publicationDate": "2024-08-26", "citationCount": 12,
  "authors": [{"authorId": "1", "name": "Ruochen Li"}, {"authorId": "2", "name": "Teerth Patel"}],
  "fieldsOfStudy": ["Computer Science"], "s2FieldsOfStudy": [{"category": "Computer Science", "source": "s2-fos-model"}],
  "openAccessPdf": null})J";

inline const std::string s2_recommendations = R"J({"recommendedPapers": [
 {"paperId": "a1", "externalIds": {}, "url": "https://www.semanticscholar.org/paper/a1", "title": "The AI Scientist: Towards Fully Automated Open-Ended Scientific Discovery",
  "abstract": "One of the grand challenges of artificial general intelligence is developing agents capable of conducting scientific research.", "venue": "", "year": 2024,
  "authors": [{"authorId": "9", "name": "Chris Lu"}], "citationCount": 50},
 {"paperId": "a2", "url": "https://www.semanticscholar.org/paper/a2", "title": "ResearchAgent: Iterative Research Idea Generation over Scientific Literature",
  "abstract": null, "venue": "NAACL", "year": 2025, "authors": [], "citationCount": 20},
 {"paperId": "a3", "url": "https://www.semanticscholar.org/paper/a3", "title": "MLAgentBench: Evaluating Language Agents on Machine Learning Experimentation",
  "abstract": null, "venue": "ICML", "year": 2024, "authors": [], "citationCount": 80}
]})J";

inline const std::string openalex_works = R"J({"meta": {"count": 3461, "db_response_time_ms": 37, "page": 1, "per_page": 2, "groups_count": null},
 "results": [
  {"id": "https://openalex.org/W2741809807", "doi": "https://doi.org/10.7717/peerj.4375",
   "title": "The state of OA: a large-scale analysis of the prevalence and impact of Open Access articles",
   "display_name": "The state of OA: a large-scale analysis of the prevalence and impact of Open Access articles",
   "relevance_score": 812.5, "publication_year": 2018, "publication_date": "2018-02-13",
   "ids": {"openalex": "https://openalex.org/W2741809807", "doi": "https://doi.org/10.7717/peerj.4375", "mag": "2741809807", "pmid": "https://pubmed.ncbi.nlm.nih.gov/29456894"},
   "language": "en",
   "primary_location": {"is_oa": true, "landing_page_url": "https://doi.org/10.7717/peerj.4375", "pdf_url": "https://peerj.com/articles/4375.pdf",
     "source": {"id": "https://openalex.org/S1983995261", "display_name": "PeerJ", "issn_l": "2167-8359", "type": "journal"},
     "license": "cc-by", "version": "publishedVersion"},
   "type": "article", "open_access": {"is_oa": true, "oa_status": "gold", "oa_url": "https://peerj.com/articles/4375.pdf"},
   "authorships": [
     {"author_position": "first", "author": {"id": "https://openalex.org/A5048491430", "display_name": "Heather Piwowar", "orcid": null}, "institutions": []},
     {"author_position": "middle", "author": {"id": "https://openalex.org/A5023888391", "display_name": "Jason Priem", "orcid": null}, "institutions": []}],
   "cited_by_count": 1033,
   "topics": [{"id": "https://openalex.org/T10102", "display_name": "scientometrics and bibliometrics research", "score": 0.99}],
   "keywords": [{"id": "https://openalex.org/keywords/open-access", "display_name": "Open Access", "score": 0.8}],
   "abstract_inverted_index": {"Despite": [0], "growing": [1], "interest": [2], "in": [3, 57], "Open": [4], "Access": [5], "(OA)": [6],
     "to": [7], "scholarly": [8], "literature,": [9], "there": [10], "is": [11], "an": [12], "unmet": [13], "need": [14]}},
  {"id": "https://openalex.org/W3038568908", "doi": null, "title": "Transformers for open access text mining", "display_name": "Transformers for open access text mining",
   "relevance_score": 401.25, "publication_year": 2021, "primary_location": null, "authorships": [], "cited_by_count": 3,
   "abstract_inverted_index": null}
 ], "group_by": []})J";

inline const std::string arxiv_feed = R"J(<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="http://arxiv.org/api/query?search_query%3Dall%3Aelectron%26id_list%3D%26start%3D0%26max_results%3D2" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: search_query=all:electron&amp;id_list=&amp;start=0&amp;max_results=2</title>
  <id>http://arxiv.org/api/cHxbiOdZaP56ODnBPIenZhzg5f8</id>
  <updated>2007-10-08T00:00:00-04:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">1000</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">2</opensearch:itemsPerPage>
  <entry>
    <id>http://arxiv.org/abs/hep-ex/0307015</id>
    <published>2003-07-07T13:46:39-04:00</published>
    <updated>2003-07-07T13:46:39-04:00</updated>
    <title>Multi-Electron Production at High Transverse Momenta in ep Collisions at
  HERA</title>
    <summary>  Multi-electron production is studied at high electron transverse momentum in
positron- and electron-proton collisions using the H1 detector at HERA. The
data correspond to an integrated luminosity of 115 pb-1.
</summary>
    <author>
      <name>H1 Collaboration</name>
    </author>
    <arxiv:comment xmlns:arxiv="http://arxiv.org/schemas/atom">23 pages, 8 figures and 4 tables</arxiv:comment>
    <arxiv:journal_ref xmlns:arxiv="http://arxiv.org/schemas/atom">Eur.Phys.J. C31 (2003) 17-29</arxiv:journal_ref>
    <link href="http://arxiv.org/abs/hep-ex/0307015v1" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/hep-ex/0307015v1" rel="related" type="application/pdf"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="hep-ex" scheme="http://arxiv.org/schemas/atom"/>
    <category term="hep-ex" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
  <entry>
    <id>http://arxiv.org/abs/2408.14033v2</id>
    <updated>2024-09-02T17:35:12Z</updated>
    <published>2024-08-26T06:46:48Z</published>
    <title>MLR-Copilot: Autonomous Machine Learning Research based on Large Language
  Models Agents</title>
    <summary>Machine learning research, crucial for technological advancements &amp; innovation,
often faces significant challenges due to its inherent complexity &#8212; the slow
pace of experimentation &lt;and&gt; the necessity for specialized expertise.</summary>
    <author><name>Ruochen Li</name></author>
    <author><name>Teerth Patel</name></author>
    <author><name>Qingyun Wang</name></author>
    <arxiv:doi xmlns:arxiv="http://arxiv.org/schemas/atom">10.48550/arXiv.2408.14033</arxiv:doi>
    <link href="http://arxiv.org/abs/2408.14033v2" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/2408.14033v2" rel="related" type="application/pdf"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.AI" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.AI" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
</feed>
)J";

inline const std::string arxiv_error_feed = R"J(<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">
  <link xmlns="http://www.w3.org/2005/Atom" href="http://arxiv.org/api/query?search_query=&amp;id_list=1234.12345" rel="self" type="application/atom+xml"/>
  <title xmlns="http://www.w3.org/2005/Atom">ArXiv Query: search_query=&amp;id_list=1234.12345</title>
  <id xmlns="http://www.w3.org/2005/Atom">http://arxiv.org/api/kvuntZ8c9a4Eq5CF7KY03nMug+Q</id>
  <updated xmlns="http://www.w3.org/2005/Atom">2007-10-12T00:00:00-04:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">1</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">1</opensearch:itemsPerPage>
  <entry xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">
    <id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.12345</id>
    <title>Error</title>
    <summary>incorrect id format for 1234.12345</summary>
    <updated>2007-10-12T00:00:00-04:00</updated>
    <link href="http://arxiv.org/api/errors#incorrect_id_format_for_1234.12345" rel="alternate" type="text/html"/>
    <author><name>arXiv api core</name></author>
  </entry>
</feed>
)J";

inline const std::string hf_models = R"J([
 {"_id": "621ffdc036468d709f174338", "id": "google-bert/bert-base-uncased", "likes": 2163, "trendingScore": 18, "private": false,
  "downloads": 56012345, "tags": ["transformers", "pytorch", "tf", "jax", "rust", "safetensors", "bert", "fill-mask", "exbert", "en",
  "dataset:bookcorpus", "dataset:wikipedia", "arxiv:1810.04805", "license:apache-2.0", "autotrain_compatible", "endpoints_compatible", "region:us"],
  "pipeline_tag": "fill-mask", "library_name": "transformers", "createdAt": "2022-03-02T23:29:04.000Z", "modelId": "google-bert/bert-base-uncased"},
 {"_id": "65f0", "id": "textattack/bert-base-uncased-imdb", "likes": 5, "trendingScore": 0, "private": false, "downloads": 2310,
  "tags": ["transformers", "pytorch", "bert", "text-classification", "endpoints_compatible", "region:us"],
  "pipeline_tag": "text-classification", "library_name": "transformers", "createdAt": "2022-03-02T23:29:05.000Z", "modelId": "textattack/bert-base-uncased-imdb"}
])J";

inline const std::string hf_datasets = R"J([
 {"_id": "621ffdd236468d709f181d58", "id": "stanfordnlp/imdb", "author": "stanfordnlp", "sha": "e6281661ce1c48d982bc483cf8a173c1bbeb5d31",
  "lastModified": "2024-01-04T12:09:45.000Z", "private": false, "gated": false, "disabled": false, "likes": 280, "trendingScore": 3,
  "tags": ["task_categories:text-classification", "task_ids:sentiment-classification", "annotations_creators:expert-generated", "language:en",
  "license:other", "size_categories:10K<n<100K", "format:parquet", "modality:text", "library:datasets", "region:us"],
  "description": "Dataset Card for \"imdb\" Large Movie Review Dataset. This is a dataset for binary sentiment classification containing substantially more data than previous benchmark datasets.",
  "downloads": 120456, "createdAt": "2022-03-02T23:29:22.000Z", "key": ""}
])J";

inline const std::string github_repos = R"J({"total_count": 40, "incomplete_results": false, "items": [
 {"id": 3081286, "node_id": "MDEwOlJlcG9zaXRvcnkzMDgxMjg2", "name": "Tetris", "full_name": "dtrupenn/Tetris",
  "owner": {"login": "dtrupenn", "id": 872147, "type": "User"}, "private": false, "html_url": "https://github.com/dtrupenn/Tetris",
  "description": "A C implementation of Tetris using Pennsim through LC4", "fork": false, "url": "https://api.github.com/repos/dtrupenn/Tetris",
  "created_at": "2012-01-01T00:31:50Z", "updated_at": "2013-01-05T17:58:47Z", "pushed_at": "2012-01-01T00:37:02Z",
  "homepage": "https://github.com", "size": 524, "stargazers_count": 1, "watchers_count": 1, "language": "Assembly",
  "forks_count": 0, "open_issues_count": 0, "master_branch": "master", "default_branch": "master", "score": 1.0,
  "license": {"key": "mit", "name": "MIT License", "url": "https://api.github.com/licenses/mit", "spdx_id": "MIT", "node_id": "MDc6TGljZW5zZW1pdA=="},
  "topics": ["game", "tetris"], "visibility": "public"}
]})J";

inline const std::string github_code = R"J({"total_count": 7, "incomplete_results": false, "items": [
 {"name": "classes.js", "path": "src/attributes/classes.js", "sha": "d7212f9dee2dcc18f084d7df8f417b80846ded5a",
  "url": "https://api.github.com/repositories/167174/contents/src/attributes/classes.js?ref=825ac3773694e0cd23ee74895fd5aeb535b27da4",
  "git_url": "https://api.github.com/repositories/167174/git/blobs/d7212f9dee2dcc18f084d7df8f417b80846ded5a",
  "html_url": "https://github.com/jquery/jquery/blob/825ac3773694e0cd23ee74895fd5aeb535b27da4/src/attributes/classes.js",
  "repository": {"id": 167174, "node_id": "MDEwOlJlcG9zaXRvcnkxNjcxNzQ=", "name": "jquery", "full_name": "jquery/jquery",
    "owner": {"login": "jquery", "id": 70142}, "private": false, "html_url": "https://github.com/jquery/jquery",
    "description": "jQuery JavaScript Library", "fork": false},
  "score": 1.0,
  "text_matches": [{"object_url": "https://api.github.com/repositories/167174/contents/src/attributes/classes.js", "object_type": "FileContent",
    "property": "content", "fragment": "jQuery.fn.extend( {\n\taddClass: function( value ) {", "matches": [{"text": "addClass", "indices": [22, 30]}]}]}
]})J";

}  // namespace mlrc::test::fixtures
